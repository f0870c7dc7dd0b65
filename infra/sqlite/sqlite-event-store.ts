import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type {
  AppendResult,
  BatchHandler,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  LogFilter,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  SubscribeOptions,
  Subscription,
} from '../../domain/kernel/event-store';
import { StoreUnavailableError } from '../../domain/kernel/event-store';
import { categoryOf } from '../../domain/kernel/streams';
import { AppendSignal, catchUpSubscription } from '../shared/catch-up-subscription';
import { RecentEvents } from '../shared/recent-events';
import { checkExpectedRevision } from '../shared/event-store-rules';
import { openSqlite, type SqliteOptions } from './sqlite-database';

/** A row in raw mode (an array in `columns` order): no object with eight named keys per row on replays of millions. */
type EventRow = [position: number, streamId: string, revision: number, eventId: string, type: string, data: string, metadata: string, created: string];

/**
 * Data and metadata are parsed on first use, once, whoever asks: projections replaying millions of events rarely look
 * at metadata, and every follower of a live event shares one parse of it.
 */
class SqliteRecordedEvent implements RecordedEvent {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
  readonly id: string;
  readonly type: string;
  readonly created: string;
  private rawData: string | undefined;
  private parsedData: unknown;
  private rawMetadata: string | undefined;
  private parsedMetadata: Readonly<Record<string, unknown>> | undefined;

  constructor(row: EventRow) {
    this.position = row[0];
    this.streamId = row[1];
    this.revision = row[2];
    this.id = row[3];
    this.type = row[4];
    this.rawData = row[5];
    this.rawMetadata = row[6];
    this.created = row[7];
  }

  get data(): unknown {
    if (this.rawData !== undefined) {
      this.parsedData = JSON.parse(this.rawData);
      this.rawData = undefined;
    }
    return this.parsedData;
  }

  get metadata(): Readonly<Record<string, unknown>> {
    if (this.parsedMetadata === undefined) {
      this.parsedMetadata = JSON.parse(this.rawMetadata!) as Record<string, unknown>;
      this.rawMetadata = undefined;
    }
    return this.parsedMetadata;
  }

  toJSON(): RecordedEvent {
    return { streamId: this.streamId, revision: this.revision, position: this.position, id: this.id, type: this.type, data: this.data, metadata: this.metadata, created: this.created };
  }
}

const toRecorded = (row: EventRow): RecordedEvent => new SqliteRecordedEvent(row);

const columns = 'position, stream_id, revision, event_id, type, data, metadata, created';

/** One caller's append: one stream, or several that commit together. */
interface PendingAppend {
  readonly appends: readonly StreamAppend[];
  readonly resolve: (results: readonly AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
  result: { ok: true; value: readonly AppendResult[]; recorded: RecordedEvent[] } | { ok: false; error: unknown } | undefined;
}

export interface SqliteEventStoreOptions extends SqliteOptions {
  /** How often an idle subscription looks for events appended by other processes. */
  readonly idlePollMs?: number;
  /** How many of this process's latest events followers may read without reading them back from the file. */
  readonly recentEvents?: number;
}

const isBusy = (error: unknown): boolean => {
  const code = (error as { code?: unknown }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
};

/**
 * The embedded event store: one SQLite file in WAL mode. Each append is one IMMEDIATE transaction, so the
 * expected-revision check and the inserts are atomic across processes, and positions are handed out in commit order.
 */
export class SqliteEventStore implements EventStore {
  readonly db: Database.Database;
  private readonly signal = new AppendSignal();
  private readonly idlePollMs: number;
  private readonly statements: {
    head: Statement<[string], { revision: number; position: number }>;
    insert: Statement<[string, number, string, string, string, string, string, string]>;
    upsertHead: Statement<[string, number, number]>;
    forwards: Statement<[string, number, number], EventRow>;
    backwards: Statement<[string, number, number], EventRow>;
  };
  private readonly filteredReads = new Map<string, Statement<unknown[], EventRow>>();
  private readonly appendTx: (appends: readonly StreamAppend[], recorded: RecordedEvent[]) => AppendResult[];
  private readonly recent: RecentEvents;
  private readonly commitAll: (appends: readonly PendingAppend[]) => void;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;

  constructor(options: SqliteEventStoreOptions) {
    this.db = openSqlite(options);
    this.idlePollMs = options.idlePollMs ?? 100;
    this.recent = new RecentEvents(options.recentEvents ?? 100_000);
    const db = this.db;
    this.statements = {
      head: db.prepare('SELECT revision, position FROM streams WHERE stream_id = ?'),
      insert: db.prepare('INSERT INTO events (stream_id, revision, category, event_id, type, data, metadata, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      upsertHead: db.prepare('INSERT INTO streams (stream_id, revision, position) VALUES (?, ?, ?) ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision, position = excluded.position'),
      forwards: db.prepare<[string, number, number], EventRow>(`SELECT ${columns} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`).raw(true),
      backwards: db.prepare<[string, number, number], EventRow>(`SELECT ${columns} FROM events WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`).raw(true),
    };
    const appendOne = (streamId: string, events: readonly EventToAppend[], expected: ExpectedRevision, recorded: RecordedEvent[]): AppendResult => {
      const head = this.statements.head.get(streamId);
      checkExpectedRevision(streamId, expected, head?.revision);
      if (events.length === 0) return { nextExpectedRevision: head?.revision ?? -1, position: head?.position ?? 0 };
      const category = categoryOf(streamId);
      const created = new Date().toISOString();
      let revision = head?.revision ?? -1;
      let position = 0;
      for (const e of events) {
        revision++;
        const data = JSON.stringify(e.data);
        const metadata = JSON.stringify(e.metadata);
        const info = this.statements.insert.run(streamId, revision, category, e.id, e.type, data, metadata, created);
        position = Number(info.lastInsertRowid);
        // kept as written: what a caller does to its objects afterwards changes nothing a follower reads
        recorded.push(new SqliteRecordedEvent([position, streamId, revision, e.id, e.type, data, metadata, created]));
      }
      this.statements.upsertHead.run(streamId, revision, position);
      return { nextExpectedRevision: revision, position };
    };
    // a savepoint per caller: its streams commit together, and a failed check undoes only them
    const tx = db.transaction((appends: readonly StreamAppend[], recorded: RecordedEvent[]): AppendResult[] =>
      appends.map((a) => appendOne(a.streamId, a.events, a.expectedRevision, recorded)),
    );
    this.appendTx = (appends, recorded) => tx(appends, recorded);
    // each append runs in a savepoint of one outer transaction: a failed expected-revision check undoes only its own
    const all = db.transaction((appends: readonly PendingAppend[]) => {
      for (const a of appends) {
        try {
          const recorded: RecordedEvent[] = [];
          a.result = { ok: true, value: this.appendTx(a.appends, recorded), recorded };
        } catch (error) {
          a.result = { ok: false, error };
        }
      }
    });
    this.commitAll = (appends) => all.immediate(appends);
  }

  /**
   * Group commit across streams: appends requested in the same turn of the event loop share one transaction and so
   * one fsync. Each keeps its own expected-revision check and result, and each resolves only after the commit.
   */
  async appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    return (await this.appendToStreams([{ streamId, events, expectedRevision }]))[0]!;
  }

  appendToStreams(appends: readonly StreamAppend[]): Promise<readonly AppendResult[]> {
    return new Promise<readonly AppendResult[]>((resolve, reject) => {
      this.pending.push({ appends, resolve, reject, result: undefined });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushAppends());
      }
    });
  }

  private flushAppends(): void {
    this.flushScheduled = false;
    const appends = this.pending;
    this.pending = [];
    try {
      this.commitAll(appends);
    } catch (error) {
      const failure = isBusy(error) ? new StoreUnavailableError('the SQLite event store is locked by another process; nothing was written', error) : error;
      for (const a of appends) a.reject(failure);
      return;
    }
    // the appends ran one after another in one transaction, so their events are in position order
    const committed: RecordedEvent[] = [];
    for (const a of appends) if (a.result?.ok) committed.push(...a.result.recorded);
    this.recent.add(committed);
    for (const a of appends) {
      const result = a.result!;
      if (result.ok) a.resolve(result.value);
      else a.reject(result.error);
    }
    if (committed.length > 0) this.signal.notify();
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    const max = options.maxCount ?? -1;
    const rows =
      options.direction === 'backwards'
        ? this.statements.backwards.all(streamId, options.fromRevision ?? Number.MAX_SAFE_INTEGER, max)
        : this.statements.forwards.all(streamId, options.fromRevision ?? 0, max);
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly RecordedEvent[]> {
    const after = options.after ?? 0;
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const recent = this.recent.read(after, maxCount, options.filter);
    if (!recent) return this.readFromFile(after, maxCount, options.filter);
    if (recent.events.length >= maxCount) return recent.events;
    // past what this process wrote last, only the file knows (another process may have appended)
    return [...recent.events, ...this.readFromFile(recent.through, maxCount - recent.events.length, options.filter)];
  }

  private readFromFile(after: number, maxCount: number, filter: LogFilter | undefined): RecordedEvent[] {
    const { sql, params } = this.filterClause(filter);
    const statement = this.filteredRead(`SELECT ${columns} FROM events WHERE position > ?${sql} ORDER BY position LIMIT ?`);
    return statement.all(after, ...params, maxCount === Number.MAX_SAFE_INTEGER ? -1 : maxCount).map(toRecorded);
  }

  async headPosition(filter?: LogFilter): Promise<number | undefined> {
    const { sql, params } = this.filterClause(filter);
    const statement = this.filteredRead(`SELECT position FROM events WHERE position > ?${sql} ORDER BY position DESC LIMIT 1`);
    const row = statement.get(0, ...params) as unknown as [position: number] | undefined;
    return row?.[0];
  }

  subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    return catchUpSubscription({ readAll: (o) => this.readAll(o), waitForAppend: (ms) => this.signal.wait(ms) }, options, handler, this.idlePollMs);
  }

  async close(): Promise<void> {
    // appends already accepted are committed, not dropped
    if (this.pending.length > 0 && this.db.open) this.flushAppends();
    this.signal.notify();
    if (this.db.open) this.db.close();
  }

  private filterClause(filter: LogFilter | undefined): { sql: string; params: string[] } {
    let sql = '';
    const params: string[] = [];
    if (filter?.categories && filter.categories.length > 0) {
      sql += ` AND category IN (${filter.categories.map(() => '?').join(', ')})`;
      params.push(...filter.categories);
    }
    if (filter?.eventTypes && filter.eventTypes.length > 0) {
      sql += ` AND type IN (${filter.eventTypes.map(() => '?').join(', ')})`;
      params.push(...filter.eventTypes);
    }
    return { sql, params };
  }

  private filteredRead(sql: string): Statement<unknown[], EventRow> {
    let statement = this.filteredReads.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], EventRow>(sql).raw(true);
      this.filteredReads.set(sql, statement);
    }
    return statement;
  }
}
