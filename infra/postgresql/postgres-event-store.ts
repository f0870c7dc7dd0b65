import { Client, type PoolClient } from 'pg';
import type {
  AppendResult,
  BatchHandler,
  EventPrecondition,
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
import { AppendSignal, catchUpSubscription } from '../shared/catch-up-subscription';
import { LazyRecordedEvent } from '../shared/lazy-recorded-event';
import { appendGroup, prepareCaller, type CallerOutcome, type PreparedCaller } from './postgres-append';
import { PostgresDatabase, isConnectionError, unavailableOr, type PostgresOptions } from './postgres-database';

/** A row in array mode, in `columns` order: bigint comes back as a string. */
type EventRow = [position: string, streamId: string, revision: number, eventId: string, type: string, data: string, metadata: string, created: Date];

const columns = 'position, stream_id, revision, event_id, type, data, metadata, created';

const toRecorded = (row: EventRow): RecordedEvent => new LazyRecordedEvent([Number(row[0]), row[1], row[2], row[3], row[4], row[5], row[6], row[7].toISOString()]);

/** One caller's append: one stream, or several that commit together. */
interface PendingAppend extends PreparedCaller {
  readonly resolve: (results: readonly AppendResult[]) => void;
  readonly reject: (error: unknown) => void;
}

export interface PostgresEventStoreOptions extends PostgresOptions {
  /** How often an idle subscription reads the log when no notification came (a lost LISTEN connection, say). */
  readonly idlePollMs?: number;
}

/**
 * The event store on PostgreSQL.
 *
 * Positions and no skipped events: positions are handed out at commit time under a lock, not from a sequence. Each
 * append transaction first locks the single row of `log_head` (`SELECT ... FOR UPDATE`), takes positions after the
 * one it holds, and writes the new head before it commits; the next transaction gets the row only after this one
 * has committed and become visible. Position order is therefore commit order, in this process and across processes,
 * and a reader whose snapshot sees position p sees every position below it: a follower reading `position > last`
 * can never pass over an event that commits later with a smaller position. (The alternative, reading only below the
 * oldest running transaction's xmin as emmett-postgresql does, allows parallel writers but delays followers.) The
 * lock serialises writers, which group commit makes cheap: one transaction carries every append that queued up.
 *
 * Stream heads come from the (stream_id, revision) unique index, as in the SQLite store; under the lock the check
 * reads the latest committed head, and the unique constraint is only a backstop.
 *
 * Followers are woken by LISTEN/NOTIFY (the append transaction notifies; a dedicated client listens), with a poll
 * every `idlePollMs` as a fallback.
 */
export class PostgresEventStore implements EventStore {
  readonly database: PostgresDatabase;
  private readonly signal = new AppendSignal();
  private readonly idlePollMs: number;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;
  /** The group being committed: one at a time, since they would queue for the log_head lock anyway. */
  private committing: Promise<void> | undefined;
  private listener: Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: PostgresEventStoreOptions) {
    this.database = new PostgresDatabase(options);
    this.idlePollMs = options.idlePollMs ?? 100;
    void this.listen();
  }

  async appendToStream(streamId: string, events: readonly EventToAppend[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    return (await this.appendToStreams([{ streamId, events, expectedRevision }]))[0]!;
  }

  /**
   * Group commit: appends made while no group is committing (in one turn of the event loop), or while one is, go to
   * the server as one transaction with one commit. Each caller runs in a savepoint of its own, in the order the calls
   * were made: a failed check (or a missing required event) rolls back that caller only and rejects it, the others
   * commit. Every caller resolves after the commit.
   */
  appendToStreams(appends: readonly StreamAppend[], requires: readonly EventPrecondition[] = []): Promise<readonly AppendResult[]> {
    return new Promise<readonly AppendResult[]>((resolve, reject) => {
      if (this.closed) {
        reject(new StoreUnavailableError('the PostgreSQL event store is closed; nothing was written'));
        return;
      }
      this.pending.push({ ...prepareCaller(appends, requires), resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.committing) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.committing || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.committing = this.commitGroup(batch).finally(() => {
      this.committing = undefined;
      if (this.pending.length > 0) this.scheduleFlush();
    });
  }

  private async commitGroup(batch: readonly PendingAppend[]): Promise<void> {
    let client: PoolClient;
    try {
      await this.database.ready();
      client = await this.database.pool.connect();
    } catch (error) {
      const failure = unavailableOr(error, 'append');
      for (const p of batch) p.reject(failure);
      return;
    }
    let outcomes: readonly CallerOutcome[];
    let committingNow = false;
    try {
      // the log head is every writer's lock: a writer that stops (or whose host is cut off) while it holds it is cut
      // off by the server within 3 s, so the others go on; one that waits too long for the lock gives up
      await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '10s'; SET LOCAL idle_in_transaction_session_timeout = '3s'`);
      outcomes = await appendGroup(client, batch, this.database.channel);
      committingNow = true;
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(isConnectionError(error) ? (error as Error) : true);
      const failure =
        committingNow && isConnectionError(error)
          ? // the COMMIT may have reached the server: say so rather than promise that nothing was written
            Object.assign(new Error(`the connection to PostgreSQL was lost while committing (${(error as Error).message}); the append may or may not be in the log`), {
              code: 'commit_outcome_unknown',
              cause: error,
            })
          : unavailableOr(error, 'append');
      for (const p of batch) p.reject(failure);
      return;
    }
    batch.forEach((p, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) p.resolve(outcome.results);
      else p.reject(outcome.error);
    });
    if (outcomes.some((o) => o.ok)) this.signal.notify();
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? Number.MAX_SAFE_INTEGER : 0);
    const rows = await this.query(
      `SELECT ${columns} FROM events WHERE stream_id = $1 AND revision ${backwards ? '<=' : '>='} $2::bigint ORDER BY revision ${backwards ? 'DESC' : ''} LIMIT $3`,
      [streamId, from, options.maxCount ?? null],
    );
    return rows.map(toRecorded);
  }

  async readAll(options: ReadAllOptions = {}): Promise<readonly RecordedEvent[]> {
    return (await this.readAllThrough(options)).events;
  }

  /**
   * Reads the log and, in the same statement (one snapshot), its head: when the page is not full, every event up to
   * the head was looked at, so a filtered follower moves past what it skipped.
   */
  private async readAllThrough(options: ReadAllOptions): Promise<{ events: readonly RecordedEvent[]; through: number | undefined }> {
    const { sql, params } = this.filterClause(options.filter, 3);
    const maxCount = options.maxCount ?? null;
    const rows = await this.query<[string, ...EventRow]>(
      `SELECT h.position, e.* FROM log_head h LEFT JOIN LATERAL (
         SELECT ${columns} FROM events WHERE position > $1${sql} ORDER BY position LIMIT $2
       ) e ON true`,
      [options.after ?? 0, maxCount, ...params],
    );
    const head = rows.length > 0 ? Number(rows[0]![0]) : undefined;
    const events = rows.filter((r) => r[1] !== null).map((r) => toRecorded(r.slice(1) as EventRow));
    const last = events[events.length - 1]?.position;
    const full = maxCount !== null && events.length >= maxCount;
    return { events, through: full ? last : head === 0 ? undefined : head };
  }

  async headPosition(filter?: LogFilter): Promise<number | undefined> {
    const { sql, params } = this.filterClause(filter, 1);
    const rows = await this.query<[string]>(`SELECT position FROM events WHERE true${sql} ORDER BY position DESC LIMIT 1`, params);
    return rows[0] ? Number(rows[0][0]) : undefined;
  }

  subscribeToAll(options: SubscribeOptions, handler: BatchHandler): Subscription {
    return catchUpSubscription({ readAll: (o) => this.readAllThrough(o), waitForAppend: (ms) => this.signal.wait(ms) }, options, handler, this.idlePollMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // appends already accepted are committed, not dropped
    while (this.committing || this.pending.length > 0) {
      this.flush();
      await this.committing;
    }
    this.signal.notify();
    clearTimeout(this.listenRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.database.end();
  }

  private async query<R extends unknown[] = EventRow>(text: string, values: unknown[]): Promise<R[]> {
    try {
      await this.database.ready();
      return (await this.database.pool.query<R>({ text, values, rowMode: 'array' })).rows;
    } catch (error) {
      throw unavailableOr(error, 'read');
    }
  }

  /** `AND ...` for the filter, with its parameters numbered from `first`. */
  private filterClause(filter: LogFilter | undefined, first: number): { sql: string; params: string[][] } {
    let sql = '';
    const params: string[][] = [];
    if (filter?.categories && filter.categories.length > 0) {
      params.push([...filter.categories]);
      sql += ` AND category = ANY($${first + params.length - 1}::text[])`;
    }
    if (filter?.eventTypes && filter.eventTypes.length > 0) {
      params.push([...filter.eventTypes]);
      sql += ` AND type = ANY($${first + params.length - 1}::text[])`;
    }
    return { sql, params };
  }

  /** A dedicated connection LISTENs for appends from any process; lost, it is opened again, and polling covers the gap. */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new Client(this.database.clientConfig());
    let gone = false;
    const retry = (): void => {
      if (gone) return;
      gone = true;
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.closed || this.listenRetry) return;
      this.listenRetry = setTimeout(() => {
        this.listenRetry = undefined;
        void this.listen();
      }, 1000);
      this.listenRetry.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', () => this.signal.notify());
    try {
      await client.connect();
      await client.query(`LISTEN ${this.database.channel}`);
      if (this.closed) {
        await client.end();
        return;
      }
      this.listener = client;
      // anything appended while there was no listener
      this.signal.notify();
    } catch {
      retry();
    }
  }
}
