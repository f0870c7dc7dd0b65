import { Pool, type PoolClient } from 'pg';
import { StoreUnavailableError } from '../../domain/kernel/event-store';

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`. */
  readonly connectionString: string;
  /** Connections in the pool (reads, the append transaction, snapshots, checkpoints, tokens). Default 10. */
  readonly poolSize?: number;
  /** Schema for Crest's tables, created if missing; default: the connection's search_path (normally `public`). */
  readonly schema?: string;
}

const schemaName = /^[a-z_][a-z0-9_]{0,47}$/;

const ddl = `
-- one row: the position of the last committed event. An append locks it for its whole transaction, so positions are
-- handed out in commit order and a reader that sees position p also sees every position below it
CREATE TABLE IF NOT EXISTS log_head (
  id       boolean PRIMARY KEY DEFAULT true CHECK (id),
  position bigint  NOT NULL
);
INSERT INTO log_head (id, position) VALUES (true, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS events (
  position  bigint      PRIMARY KEY,
  stream_id text        NOT NULL,
  revision  integer     NOT NULL,
  category  text        NOT NULL,
  event_id  text        NOT NULL,
  type      text        NOT NULL,
  -- JSON kept as text, as written: jsonb refuses \\u0000 and reorders keys
  data      text        NOT NULL,
  metadata  text        NOT NULL,
  created   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_id, revision)
);
CREATE INDEX IF NOT EXISTS events_by_category ON events (category, position);
CREATE TABLE IF NOT EXISTS snapshots (
  stream_id      text        PRIMARY KEY,
  revision       integer     NOT NULL,
  position       bigint      NOT NULL,
  schema_version integer     NOT NULL,
  state          text        NOT NULL,
  created        timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS checkpoints (
  name     text   PRIMARY KEY,
  position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS payment_tokens (
  payment_id text PRIMARY KEY,
  token      text NOT NULL
);
`;

/** SQLSTATE classes after which nothing was written and the same call may succeed later. */
const transientState = /^(08|53|57P0[1-3]|40001|40P01|55P03)/;
const transientSyscall = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** node-postgres reports a lost or unobtainable connection with these messages and no code. */
const connectionLost = /Connection terminated|not queryable|timeout exceeded when trying to connect|Client was closed|Connection closed/i;

/** True when the server never answered: the connection was lost or could not be made. */
export const isConnectionError = (error: unknown): boolean => {
  const e = error as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && transientSyscall.has(e.code)) return true;
  return typeof e?.message === 'string' && connectionLost.test(e.message) && !(typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code));
};

/** Errors that leave nothing written and may pass (no server, a serialization failure, a deadlock) as StoreUnavailableError. */
export const unavailableOr = (error: unknown, what: string): unknown => {
  if (error instanceof StoreUnavailableError) return error;
  const code = (error as { code?: unknown })?.code;
  if (isConnectionError(error) || (typeof code === 'string' && transientState.test(code))) {
    return new StoreUnavailableError(`${what}: PostgreSQL is unavailable (${(error as Error).message}); nothing was written`, error);
  }
  return error;
};

/**
 * One PostgreSQL database (and schema) holding Crest's tables, shared by the event store and the stores beside it.
 * The schema is created on first use, and again after a failed attempt, so a store opened while the server is down
 * starts working when it comes back.
 */
export class PostgresDatabase {
  readonly pool: Pool;
  /** The NOTIFY channel appends announce themselves on: per schema, since channels are per database. */
  readonly channel: string;
  private schemaReady: Promise<void> | undefined;

  constructor(readonly options: PostgresOptions) {
    if (options.schema !== undefined && !schemaName.test(options.schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(options.schema)}`);
    this.pool = new Pool({ ...this.clientConfig(), max: options.poolSize ?? 10 });
    // an idle client that loses its connection emits here; the next query gets a new connection
    this.pool.on('error', () => undefined);
    // a checked-out client has no listener of the pool's: without this one, a connection reset while it is out (a
    // host cut off, then back, after the server ended its session) would crash the process; its query rejects anyway
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.channel = options.schema ? `crest_events_${options.schema}` : 'crest_events';
  }

  /** What a client of this database is opened with: the same for the pool and for a dedicated listener. */
  clientConfig(): { connectionString: string; options?: string; connectionTimeoutMillis: number } {
    return {
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: 5000,
      ...(this.options.schema ? { options: `-c search_path=${this.options.schema}` } : {}),
    };
  }

  /** Resolves once Crest's tables exist. */
  ready(): Promise<void> {
    if (!this.schemaReady) {
      this.schemaReady = this.createSchema();
      this.schemaReady.catch(() => (this.schemaReady = undefined));
    }
    return this.schemaReady;
  }

  /** Runs `work` in a transaction on one pooled connection; rolls back if it throws. */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(isConnectionError(error) ? (error as Error) : undefined);
      throw error;
    }
  }

  async end(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private async createSchema(): Promise<void> {
    await this.transaction(async (client) => {
      // two processes starting at once would race on CREATE TABLE IF NOT EXISTS
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`crest-schema:${this.options.schema ?? ''}`]);
      if (this.options.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.options.schema}`);
      await client.query(ddl);
    });
  }
}
