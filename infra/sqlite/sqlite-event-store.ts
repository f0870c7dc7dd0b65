import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type {
  AppendResult,
  EventPrecondition,
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
import { RequiredEventMissingError, WrongExpectedRevisionError } from '../../domain/kernel/event-store';
import { categoryOf } from '../../domain/kernel/streams';
import { AppendSignal, catchUpSubscription } from '../shared/catch-up-subscription';
import { LazyRecordedEvent, type StoredEventRow } from '../shared/lazy-recorded-event';
import { RecentEvents } from '../shared/recent-events';
import { openSqlite, type SqliteOptions } from './sqlite-database';
import { SqliteWriterThread, type SqliteWrites, type ThreadAppend, type ThreadCaller, type ThreadRequirement } from './sqlite-writer-thread';

/** A row in raw mode (an array in `columns` order): no object with eight named keys per row on replays of millions. */
type EventRow = StoredEventRow;

const toRecorded = (row: EventRow): RecordedEvent => new LazyRecordedEvent(row);

const columns = 'position, stream_id, revision, event_id, type, data, metadata, created';

/** One caller's append: one stream, or several that commit together. */
interface PendingAppend {
  readonly appends: readonly StreamAppend[];
  readonly requires: readonly EventPrecondition[];
  readonly resolve: (results: readonly AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

export interface SqliteEventStoreOptions extends SqliteOptions {
  /** How often an idle subscription looks for events appended by other processes. */
  readonly idlePollMs?: number;
  /** How many of this process's latest events followers may read without reading them back from the file. */
  readonly recentEvents?: number;
  /** Fault tests only: the writer thread holds each append transaction open this long before committing. */
  readonly faultCommitPauseMs?: number;
}

/**
 * The embedded event store: one SQLite file in WAL mode. Appends go to a writer thread (`SqliteWriterThread`), which
 * commits each group in one IMMEDIATE transaction: the expected-revision checks and the inserts are atomic across
 * processes, positions are handed out in commit order, and the commit and its fsync never block the event loop.
 * Reads use this thread's own connection; WAL readers never wait for the writer.
 */
export class SqliteEventStore implements EventStore {
  readonly db: Database.Database;
  /** Other writes to the same file (snapshots, checkpoints, tokens) go through the writer thread too. */
  readonly writes: SqliteWrites;
  private readonly writer: SqliteWriterThread;
  private readonly signal = new AppendSignal();
  private readonly idlePollMs: number;
  private readonly statements: {
    forwards: Statement<[string, number, number], EventRow>;
    backwards: Statement<[string, number, number], EventRow>;
  };
  private readonly filteredReads = new Map<string, Statement<unknown[], EventRow>>();
  private readonly recent: RecentEvents;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** Groups sent to the writer thread and not answered yet, in the order sent. */
  private readonly inFlight = new Set<Promise<void>>();
  /** When the file last had nothing past the end of this process's recent commits. */
  private fileLookedAt: { end: number; at: number } | undefined;

  constructor(options: SqliteEventStoreOptions) {
    this.db = openSqlite(options);
    this.writer = new SqliteWriterThread({ file: options.file, synchronous: options.synchronous, faultCommitPauseMs: options.faultCommitPauseMs });
    this.writes = this.writer;
    this.idlePollMs = options.idlePollMs ?? 100;
    this.recent = new RecentEvents(options.recentEvents ?? 100_000);
    this.statements = {
      forwards: this.db.prepare<[string, number, number], EventRow>(`SELECT ${columns} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`).raw(true),
      backwards: this.db.prepare<[string, number, number], EventRow>(`SELECT ${columns} FROM events WHERE stream_id = ? AND revision <= ? ORDER BY revision DESC LIMIT ?`).raw(true),
    };
  }

  async appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    return (await this.appendToStreams([{ streamId, events, expectedRevision }]))[0]!;
  }

  /**
   * Group commit across streams: appends made in the same turn of the event loop go to the writer thread as one group,
   * without waiting for the groups before it; the thread commits every group that queued up while it was busy in
   * one transaction, so one fsync. Each caller keeps its own expected-revision checks and result, and each resolves
   * only after the commit.
   */
  appendToStreams(appends: readonly StreamAppend[], requires: readonly EventPrecondition[] = []): Promise<readonly AppendResult[]> {
    return new Promise<readonly AppendResult[]>((resolve, reject) => {
      this.pending.push({ appends, requires, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushAppends());
      }
    });
  }

  private flushAppends(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const callers = batch.map(
      (p): ThreadCaller => [
        p.appends.map((a): ThreadAppend => [a.streamId, categoryOf(a.streamId), a.expectedRevision, a.events.map((e) => [e.id, e.type, JSON.stringify(e.data), JSON.stringify(e.metadata)])]),
        p.requires.map((r): ThreadRequirement => [r.streamId, r.revision, r.eventId]),
      ],
    );
    const committing: Promise<void> = this.writer.append(callers).then(
      ({ created, callers: results }) => {
        // the callers ran one after another in one transaction, so their events are in position order
        const committed: RecordedEvent[] = [];
        batch.forEach((p, i) => {
          const result = results[i]!;
          if (!result.ok) {
            if ('missing' in result) {
              const [streamId, revision, eventId] = result.missing;
              p.reject(new RequiredEventMissingError({ streamId, revision, eventId }));
              return;
            }
            const { streamId, expected, actual } = result.conflict;
            p.reject(new WrongExpectedRevisionError(streamId, expected, actual));
            return;
          }
          callers[i]![0].forEach(([streamId, , , events], s) => {
            const [revision, position] = result.streams[s]!;
            // kept as written: what a caller does to its objects afterwards changes nothing a follower reads
            events.forEach(([id, type, data, metadata], e) => {
              const back = events.length - 1 - e;
              committed.push(new LazyRecordedEvent([position - back, streamId, revision - back, id, type, data, metadata, created]));
            });
          });
          p.resolve(result.streams.map(([nextExpectedRevision, position]) => ({ nextExpectedRevision, position })));
        });
        this.recent.add(committed);
        if (committed.length > 0) this.signal.notify();
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error);
      },
    );
    this.inFlight.add(committing);
    void committing.finally(() => this.inFlight.delete(committing));
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
    return this.readAllThrough(options).events;
  }

  private readAllThrough(options: ReadAllOptions): { events: readonly RecordedEvent[]; through: number | undefined } {
    const after = options.after ?? 0;
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const recent = this.recent.read(after, maxCount, options.filter);
    if (!recent) {
      // at the end of what this process wrote: another process's appends are looked for at most every idlePollMs
      const end = this.recent.range?.last;
      if (after === end && this.fileLookedAt?.end === end && performance.now() - this.fileLookedAt.at < this.idlePollMs) return { events: [], through: undefined };
      const events = this.readFromFile(after, maxCount, options.filter);
      if (after === end && events.length === 0) this.fileLookedAt = { end, at: performance.now() };
      return { events, through: events[events.length - 1]?.position };
    }
    // past what this process wrote last, only the file knows: the next read, from there, asks it
    return recent;
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
    return catchUpSubscription({ readAll: async (o) => this.readAllThrough(o), waitForAppend: (ms) => this.signal.wait(ms) }, options, handler, this.idlePollMs);
  }

  async close(): Promise<void> {
    // appends already accepted are committed, not dropped
    while (this.inFlight.size > 0 || this.pending.length > 0) {
      this.flushAppends();
      await Promise.allSettled([...this.inFlight]);
    }
    this.signal.notify();
    await this.writer.close();
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
