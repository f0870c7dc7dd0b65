import type Database from 'better-sqlite3';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError, type ExpectedRevision } from '../../domain/kernel/event-store';
import type { SqliteSynchronous } from './sqlite-database';

/** Writes that must not block the event loop: they run on the store's writer thread, one after another. */
export interface SqliteWrites {
  run(sql: string, params: readonly unknown[]): Promise<void>;
}

/** Writes on the calling thread, through its own connection: for a file no writer thread serves. */
export const onThisThread = (db: Database.Database): SqliteWrites => {
  const statements = new Map<string, Database.Statement>();
  return {
    run: async (sql, params) => {
      let statement = statements.get(sql);
      if (!statement) statements.set(sql, (statement = db.prepare(sql)));
      statement.run(...params);
    },
  };
};

/** One stream's part of a caller's append, as the writer thread takes it: JSON already made on this thread. */
export type ThreadAppend = [streamId: string, category: string, expected: ExpectedRevision, events: Array<[id: string, type: string, data: string, metadata: string]>];

/** An event that must be in the log for the caller's append to go ahead. */
export type ThreadRequirement = [streamId: string, revision: number, eventId: string];

/** One caller: its streams, which commit together, and the events they require. */
export type ThreadCaller = [appends: readonly ThreadAppend[], requires: readonly ThreadRequirement[]];

export type ThreadCallerResult =
  | { readonly ok: true; readonly streams: ReadonlyArray<[nextExpectedRevision: number, lastPosition: number]> }
  | { readonly ok: false; readonly conflict: { readonly streamId: string; readonly expected: ExpectedRevision; readonly actual: number | 'no_stream' } }
  | { readonly ok: false; readonly missing: ThreadRequirement };

type Reply = { id: number; ok: true; created?: string; callers?: ThreadCallerResult[] } | { id: number; ok: false; error: { message: string; code?: string } };

const failureOf = (error: { message: string; code?: string }): Error => {
  if (error.code === 'SQLITE_BUSY' || error.code === 'SQLITE_LOCKED') return new StoreUnavailableError('the SQLite event store is locked by another process; nothing was written', error);
  return Object.assign(new Error(error.message), { code: error.code });
};

/**
 * The SQLite write connection on a worker thread. `append` runs one group commit (a savepoint per caller inside one
 * IMMEDIATE transaction) and resolves once it is durable; the calling thread stays free meanwhile.
 */
export class SqliteWriterThread implements SqliteWrites {
  private worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (reply: Reply & { ok: true }) => void; reject: (error: unknown) => void }>();
  private closing = false;

  constructor(private readonly options: { readonly file: string; readonly synchronous: SqliteSynchronous; readonly busyTimeoutMs?: number; readonly faultCommitPauseMs?: number }) {
    this.worker = this.spawn();
  }

  /**
   * A thread that dies (a native crash, an out-of-memory) takes only its unanswered requests with it: they are
   * refused as unavailable (nothing was acknowledged, SQLite rolled back what was not committed), and a new thread
   * takes the next ones.
   */
  private spawn(): Worker {
    const worker = new Worker(join(__dirname, 'sqlite-writer.worker.cjs'), {
      workerData: { file: this.options.file, synchronous: this.options.synchronous, busyTimeoutMs: this.options.busyTimeoutMs ?? 5000, faultCommitPauseMs: this.options.faultCommitPauseMs ?? 0 },
    });
    worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (reply.ok) waiter.resolve(reply);
      else waiter.reject(failureOf(reply.error));
    });
    worker.on('error', () => undefined);
    worker.once('exit', (code) => {
      const error = new StoreUnavailableError(`the SQLite writer thread stopped (exit code ${code}); nothing unanswered was acknowledged`);
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
      if (!this.closing) this.worker = this.spawn();
    });
    return worker;
  }

  async append(callers: readonly ThreadCaller[]): Promise<{ created: string; callers: readonly ThreadCallerResult[] }> {
    const reply = await this.send({ kind: 'append', callers });
    return { created: reply.created!, callers: reply.callers! };
  }

  async run(sql: string, params: readonly unknown[]): Promise<void> {
    await this.send({ kind: 'run', sql, params });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.send({ kind: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }

  private send(message: Record<string, unknown>): Promise<Reply & { ok: true }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }
}
