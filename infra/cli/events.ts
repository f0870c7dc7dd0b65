import { closeSync, existsSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { z } from 'zod';
import type { SnapshotStore } from '../../commands/ports';
import { eventDefinitions, type CrestEventType } from '../../domain/events';
import { fold, type Decider } from '../../domain/kernel/decider';
import type { EventStore, RecordedEvent } from '../../domain/kernel/event-store';
import { categoryOf } from '../../domain/kernel/streams';
import { fromSnapshot, inventoryDecider, InventorySnapshotSchema, readableSnapshotVersions, toSnapshot, type InventoryState } from '../../domain/inventory/inventory';
import { orderDecider } from '../../domain/order/order';
import { paymentDecider } from '../../domain/payment/payment';
import { providerCallbackDecider } from '../../domain/payment/provider-callback';
import { productDecider } from '../../domain/product/product';
import { saleDecider } from '../../domain/sale/sale';

/** A refused invocation: one line naming the problem, exit code 2. */
export class UsageError extends Error {}

export interface CliIo {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown; readonly isTTY?: boolean };
}

const CATEGORIES = ['product', 'inventory', 'order', 'payment', 'checkout', 'callback', 'sale'];
const PAGE = 1000;
const DEFAULT_MAX_RATE = 10_000;

/** One exported row: where the event is, what it is, when, why (correlation and causation), and its data. */
export interface ExportRow {
  readonly position: number;
  readonly stream: string;
  readonly revision: number;
  readonly type: string;
  readonly version: number;
  readonly time: string;
  readonly correlationId: string | null;
  readonly causationId: string | null;
  readonly data: unknown;
}

export const rowOf = (e: RecordedEvent): ExportRow => ({
  position: e.position,
  stream: e.streamId,
  revision: e.revision,
  type: e.type,
  version: typeof e.metadata.schemaVersion === 'number' ? e.metadata.schemaVersion : 1,
  time: e.created,
  correlationId: typeof e.metadata.correlationId === 'string' ? e.metadata.correlationId : null,
  causationId: typeof e.metadata.causationId === 'string' ? e.metadata.causationId : null,
  data: e.data,
});

const position = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new UsageError(`--${flag} must be a position (decimal digits), got "${value}"`);
  return Number(value);
};

const instant = (flag: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) throw new UsageError(`--${flag} must be an ISO-8601 time such as 2026-11-11T00:00:00Z, got "${value}"`);
  return ms;
};

export interface ExportOptions {
  readonly format: 'ndjson' | 'csv' | 'parquet';
  readonly output: string | undefined;
  readonly force: boolean;
  readonly categories: readonly string[];
  readonly types: readonly string[];
  readonly stream: string | undefined;
  readonly since: number | undefined;
  readonly until: number | undefined;
  /** Exclusive lower bound (`--after`, or `--from` minus one). */
  readonly after: number;
  /** Inclusive upper bound. */
  readonly to: number | undefined;
  readonly maxRate: number;
}

/** `crest events export` flags, validated: a bad one is a UsageError naming it. */
export const parseExportArgs = (argv: readonly string[]): ExportOptions => {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      options: {
        format: { type: 'string' },
        output: { type: 'string', short: 'o' },
        force: { type: 'boolean', default: false },
        category: { type: 'string', multiple: true },
        type: { type: 'string', multiple: true },
        stream: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        after: { type: 'string' },
        'max-rate': { type: 'string' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const format = values.format as string | undefined;
  if (format !== 'ndjson' && format !== 'csv' && format !== 'parquet') throw new UsageError(`--format must be ndjson, csv or parquet, got "${format ?? ''}"`);
  if (format === 'parquet' && values.output === undefined) throw new UsageError('--format parquet needs --output FILE (Parquet is not written to a terminal)');
  const categories = (values.category as string[] | undefined) ?? [];
  for (const c of categories) if (!CATEGORIES.includes(c)) throw new UsageError(`unknown category "${c}"; categories: ${CATEGORIES.join(', ')}`);
  const types = (values.type as string[] | undefined) ?? [];
  for (const t of types) if (!(t in eventDefinitions)) throw new UsageError(`unknown event type "${t}"; see docs/analysts.md for the types`);
  const from = position('from', values.from as string | undefined);
  const after = position('after', values.after as string | undefined);
  if (from !== undefined && after !== undefined) throw new UsageError('--from and --after cannot be used together (--after resumes an earlier export)');
  const to = position('to', values.to as string | undefined);
  const since = instant('since', values.since as string | undefined);
  const until = instant('until', values.until as string | undefined);
  const rate = values['max-rate'] === undefined ? DEFAULT_MAX_RATE : Number(values['max-rate']);
  if (!Number.isInteger(rate) || rate < 1) throw new UsageError(`--max-rate must be a positive number of events per second, got "${String(values['max-rate'])}"`);
  const output = values.output as string | undefined;
  if (output !== undefined && existsSync(output) && !values.force) throw new UsageError(`${output} already exists; pass --force to replace it`);
  return {
    format,
    output,
    force: Boolean(values.force),
    categories,
    types,
    stream: values.stream as string | undefined,
    since,
    until,
    after: after ?? (from !== undefined ? from - 1 : 0),
    to,
    maxRate: rate,
  };
};

const csvCell = (value: unknown): string => {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

const BASE_COLUMNS = ['position', 'stream', 'revision', 'type', 'version', 'time', 'correlation_id', 'causation_id'] as const;

/** With exactly one event type whose schema is an object, its fields become columns; otherwise one JSON `data` column. */
const dataColumns = (types: readonly string[]): readonly string[] | undefined => {
  if (types.length !== 1) return undefined;
  const schema = eventDefinitions[types[0] as CrestEventType].schema as z.ZodType & { shape?: Record<string, unknown> };
  return schema.shape ? Object.keys(schema.shape) : undefined;
};

/** Writes rows to a file (through a temporary name, renamed at the end) or to stdout. */
class Sink {
  private readonly fd: number | undefined;
  private readonly temp: string | undefined;

  constructor(
    private readonly output: string | undefined,
    private readonly io: CliIo,
  ) {
    if (output !== undefined) {
      this.temp = `${output}.tmp-${process.pid}`;
      this.fd = openSync(this.temp, 'w');
    }
  }

  write(text: string): void {
    if (this.fd === undefined) this.io.stdout.write(text);
    else writeSync(this.fd, text);
  }

  finish(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    renameSync(this.temp!, this.output!);
  }

  abandon(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    rmSync(this.temp!, { force: true });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Streams the slice of the log to NDJSON or CSV, a page at a time, paced to `maxRate` events/s so that the live write
 * path keeps the store. Returns the number of events written and the last position read (for `--after`).
 */
export const exportEvents = async (store: EventStore, options: ExportOptions, io: CliIo): Promise<{ events: number; lastPosition: number }> => {
  if (options.format === 'parquet') return exportParquet(store, options, io);
  const head = (await store.headPosition()) ?? 0;
  const end = Math.min(options.to ?? head, head);
  const columns = options.format === 'csv' ? dataColumns(options.types) : undefined;
  const sink = new Sink(options.output, io);
  const started = Date.now();
  let written = 0;
  let last = options.after;
  let lastProgress = 0;
  try {
    if (options.format === 'csv') sink.write(`${[...BASE_COLUMNS, ...(columns ?? ['data'])].join(',')}\n`);
    const filter = { ...(options.categories.length > 0 ? { categories: options.categories } : {}), ...(options.types.length > 0 ? { eventTypes: options.types } : {}) };
    const pages: AsyncGenerator<readonly RecordedEvent[]> = options.stream
      ? (async function* () {
          yield (await store.readStream(options.stream!)).filter((e) => e.position > options.after && e.position <= end && (options.types.length === 0 || options.types.includes(e.type)));
        })()
      : (async function* () {
          let after = options.after;
          while (after < end) {
            const page = await store.readAll({ after, maxCount: PAGE, filter });
            if (page.length === 0) return;
            after = page[page.length - 1]!.position;
            yield page.filter((e) => e.position <= end);
          }
        })();
    for await (const page of pages) {
      let lines = '';
      for (const e of page) {
        last = e.position;
        const at = Date.parse(e.created);
        if ((options.since !== undefined && at < options.since) || (options.until !== undefined && at >= options.until)) continue;
        const row = rowOf(e);
        if (options.format === 'ndjson') lines += `${JSON.stringify(row)}\n`;
        else {
          const base = [row.position, row.stream, row.revision, row.type, row.version, row.time, row.correlationId, row.causationId];
          const data = columns ? columns.map((c) => (row.data as Record<string, unknown>)[c]) : [row.data];
          lines += `${[...base, ...data].map(csvCell).join(',')}\n`;
        }
        written++;
      }
      sink.write(lines);
      // paced: never faster than maxRate events read per second
      const due = started + ((last - options.after) / options.maxRate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      if (io.stderr.isTTY && Date.now() - lastProgress > 500) {
        lastProgress = Date.now();
        const done = last - options.after;
        const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
        const left = Math.max(0, end - last);
        io.stderr.write(`\r${written.toLocaleString('en')} events, position ${last}/${end}, ${Math.round(rate).toLocaleString('en')} events/s, ETA ${Math.ceil(left / Math.max(rate, 1))} s   `);
      }
    }
    sink.finish();
  } catch (error) {
    sink.abandon();
    throw error;
  }
  if (io.stderr.isTTY) io.stderr.write('\n');
  io.stderr.write(`exported ${written} events up to position ${last}; continue with --after ${last}\n`);
  return { events: written, lastPosition: last };
};

/** The domain's own fold for each category of stream. */
const deciders: Readonly<Record<string, Decider<unknown, never, unknown>>> = {
  product: productDecider as unknown as Decider<unknown, never, unknown>,
  inventory: inventoryDecider as unknown as Decider<unknown, never, unknown>,
  order: orderDecider as unknown as Decider<unknown, never, unknown>,
  payment: paymentDecider as unknown as Decider<unknown, never, unknown>,
  callback: providerCallbackDecider as unknown as Decider<unknown, never, unknown>,
  sale: saleDecider as unknown as Decider<unknown, never, unknown>,
};

/** Immutable collections print as plain JSON: the inventory state as its snapshot form. */
const printable = (category: string, state: unknown): unknown => (category === 'inventory' ? toSnapshot(state as InventoryState) : state);

/**
 * A stream's state at a past point (a position, inclusive, or a time), folded with the domain's `evolve`. An
 * inventory stream starts from its snapshot when the snapshot is at or before that point.
 */
export const stateAt = async (
  store: EventStore,
  snapshots: SnapshotStore,
  streamId: string,
  at: { position?: number; time?: number },
): Promise<{ stream: string; category: string; revision: number; position: number; fromSnapshot: boolean; state: unknown }> => {
  const category = categoryOf(streamId);
  const decider = deciders[category];
  if (!decider) throw new UsageError(`no state is folded for streams of category "${category}"; categories: ${Object.keys(deciders).join(', ')}`);
  const within = (e: { position: number; created: string }) => (at.position === undefined || e.position <= at.position) && (at.time === undefined || Date.parse(e.created) <= at.time);
  let state = decider.initialState();
  let revision = -1;
  let position = 0;
  let usedSnapshot = false;
  if (category === 'inventory' && at.time === undefined) {
    const snap = await snapshots.load(streamId);
    if (snap && readableSnapshotVersions.includes(snap.schemaVersion) && (at.position === undefined || snap.position <= at.position)) {
      state = fromSnapshot(InventorySnapshotSchema.parse(snap.state));
      revision = snap.revision;
      position = snap.position;
      usedSnapshot = true;
    }
  }
  const events = (await store.readStream(streamId, { fromRevision: revision + 1 })).filter(within);
  state = fold(decider, events.map((e) => ({ type: e.type, data: e.data }) as never), state);
  const lastEvent = events[events.length - 1];
  if (revision < 0 && !lastEvent) throw new UsageError(`stream ${streamId} has no events at that point`);
  return { stream: streamId, category, revision: lastEvent?.revision ?? revision, position: lastEvent?.position ?? position, fromSnapshot: usedSnapshot, state: printable(category, state) };
};


/** `--at` is a position (digits) or an ISO-8601 time. */
export const parseAt = (value: string | undefined): { position?: number; time?: number } => {
  if (value === undefined) return {};
  if (/^\d{1,15}$/.test(value)) return { position: Number(value) };
  return { time: instant('at', value)! };
};

/** NDJSON columns as DuckDB should type them; `data` stays JSON unless one event type's fields become columns. */
const NDJSON_COLUMNS = "{position: 'BIGINT', stream: 'VARCHAR', revision: 'INTEGER', type: 'VARCHAR', version: 'INTEGER', time: 'TIMESTAMPTZ', correlationId: 'VARCHAR', causationId: 'VARCHAR', data: 'JSON'}";

const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * Parquet through DuckDB (a well-kept columnar writer, also the query engine of `events query`): the slice goes to a
 * temporary NDJSON file first, then DuckDB writes the Parquet file beside the output and it is renamed into place.
 * One `--type` whose data is an object gets a typed column per field; otherwise `data` is a JSON column.
 */
const exportParquet = async (store: EventStore, options: ExportOptions, io: CliIo): Promise<{ events: number; lastPosition: number }> => {
  const output = options.output!;
  const staging = `${output}.ndjson.tmp-${process.pid}`;
  const temp = `${output}.tmp-${process.pid}`;
  try {
    const result = await exportEvents(store, { ...options, format: 'ndjson', output: staging, force: true }, io);
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const source = `read_json(${sqlString(staging)}, format = 'newline_delimited', columns = ${NDJSON_COLUMNS})`;
      const fields = dataColumns(options.types);
      const select = fields
        ? `SELECT position::BIGINT AS position, stream, revision::INTEGER AS revision, type, version::INTEGER AS version, time::TIMESTAMPTZ AS time,
                  correlationId AS correlation_id, causationId AS causation_id, unnest(data)
           FROM read_json_auto(${sqlString(staging)}, format = 'newline_delimited')`
        : `SELECT position, stream, revision, type, version, time, correlationId AS correlation_id, causationId AS causation_id, data FROM ${source}`;
      await connection.run(result.events === 0 ? `COPY (SELECT * FROM (${select}) LIMIT 0) TO ${sqlString(temp)} (FORMAT parquet)` : `COPY (${select}) TO ${sqlString(temp)} (FORMAT parquet)`);
    } finally {
      connection.closeSync();
    }
    renameSync(temp, output);
    return result;
  } finally {
    rmSync(staging, { force: true });
    rmSync(temp, { force: true });
  }
};

/**
 * `crest events query "<SQL>"`: DuckDB over a view named `events` (the rows of an export): over `--from FILE` (an
 * NDJSON, CSV or Parquet export), or over the log itself, exported for the query to a temporary file first.
 */
export const queryEvents = async (sql: string, source: { file?: string; store?: EventStore; maxRate?: number }, io: CliIo): Promise<number> => {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  let staging: string | undefined;
  let file = source.file;
  if (!file) {
    staging = join(tmpdir(), `crest-query-${process.pid}.ndjson`);
    const whole: ExportOptions = { format: 'ndjson', output: staging, force: true, categories: [], types: [], stream: undefined, since: undefined, until: undefined, after: 0, to: undefined, maxRate: source.maxRate ?? DEFAULT_MAX_RATE };
    await exportEvents(source.store!, whole, { stdout: io.stdout, stderr: { write: () => true } });
    file = staging;
  }
  if (!existsSync(file)) throw new UsageError(`--from ${file}: no such file`);
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const view = file.endsWith('.parquet')
      ? `read_parquet(${sqlString(file)})`
      : file.endsWith('.csv')
        ? `read_csv(${sqlString(file)}, header = true)`
        : `read_json(${sqlString(file)}, format = 'newline_delimited', columns = ${NDJSON_COLUMNS})`;
    await connection.run(`CREATE VIEW events AS SELECT * FROM ${view}`);
    let reader;
    try {
      reader = await connection.runAndReadAll(sql);
    } catch (error) {
      throw new UsageError(`the query failed: ${(error as Error).message.split('\n')[0]}`);
    }
    const names = reader.columnNames();
    const rows = reader.getRowsJson() as unknown[][];
    const cells = rows.map((r) => r.map((v) => (v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v))));
    const widths = names.map((n, i) => Math.min(60, Math.max(n.length, ...cells.map((r) => r[i]!.length))));
    const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
    io.stdout.write(`${line(names)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
    for (const r of cells) io.stdout.write(`${line(r)}\n`);
    io.stderr.write(`${rows.length} row${rows.length === 1 ? '' : 's'}\n`);
    return rows.length;
  } finally {
    connection.closeSync();
    if (staging) rmSync(staging, { force: true });
  }
};
