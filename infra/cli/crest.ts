#!/usr/bin/env -S npx tsx
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/config';
import { startAllInOne, startRelayWorker } from '../composition/root';
import { startRole } from '../composition/roles';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStores } from '../composition/bind-stores';
import { parseRebuildArgs, runRebuild } from './projections';
import { exportEvents, parseAt, parseExportArgs, queryEvents, stateAt, UsageError } from './events';
import { backupStore, embeddedStoreOf, parseBackupArgs, restoreStore, verifyStore } from './backup';
import { DataDirHeldError } from '../sqlite/data-dir-holders';

const usage = `Usage: crest <command>

Commands:
  start             Run every role in one process.
                    Embedded adapters by default: SQLite events in CREST_DATA_DIR, in-memory read models.
  serve             An API node of a cluster (command and read API), stateless.
  work inventory    An inventory worker: owns the SKUs of its Kafka partitions, one writer per SKU.
  work projections  Builds the MongoDB and Redis read models and announces cache invalidations.
  work sagas        Runs the checkout saga (payments, compensation, deadlines).
  work relay        Relays the global event log to Kafka (CREST_RELAY=kafka, KAFKA_BROKERS, CREST_RELAY_TOPIC).

  Cluster roles need CREST_INVENTORY=kafka, CREST_READ_MODELS=mongodb and CREST_CACHE=redis; see docs/operations.md.
  events export     Write the event log, or a slice of it, as NDJSON, CSV or Parquet (docs/analysts.md):
                    --format ndjson|csv|parquet [--output FILE [--force]] [--category C]... [--type T]... [--stream S]
                    [--since TIME] [--until TIME] [--from POS] [--to POS] [--after POS] [--max-rate EVENTS_PER_S]
  events state      Print a stream's state at a past point: crest events state <stream> [--at POSITION|TIME]
  events query      SQL over a view named events (DuckDB): crest events query "<SQL>" [--from EXPORT_FILE]
  projections rebuild
                    Rebuild the read models beside the live ones (blue/green) in the running process, and follow it:
                    [--switch] move readers over once caught up; [--status]; [--cancel] (Ctrl-C also cancels; running
                    it again resumes); [--detach]; [--url URL] of crest start or crest work projections (default
                    http://127.0.0.1:PORT). Needs CREST_ADMIN_TOKEN.
  backup <file>     Write a consistent copy of the embedded store (CREST_DATA_DIR/crest.sqlite) to a new file, online:
                    Crest keeps running and taking orders meanwhile. Never replaces a file.
  restore <file>    Restore such a copy into an empty CREST_DATA_DIR, and verify it (integrity, event count, last
                    position, the stock invariant of every SKU). Refused while a Crest process holds the directory.
  restore --verify  The same checks, in place, on the event store the config points at: after restoring PostgreSQL or
                    EventStoreDB with their own tools (docs/backup.md).
  help              Show this help.

Configuration comes from environment variables; see README.md ("Configuration").`;

/** The one warning a start prints when customer routes are open to anyone. */
const warnIfCustomersUnauthenticated = (config: ReturnType<typeof loadConfig>): void => {
  if (config.CREST_CUSTOMER_AUTH !== 'off') return;
  process.stderr.write(
    'WARNING: CREST_CUSTOMER_AUTH=off: customer routes are unauthenticated, so anyone can read, cancel or pay any order. ' +
      'Set CREST_CUSTOMER_AUTH=jwt with CREST_CUSTOMER_JWT_SECRET or CREST_CUSTOMER_JWKS_URL.\n',
  );
};

const onSignals = (log: { info: (o: object, m: string) => void; error: (o: object, m: string) => void }, stop: () => Promise<void>): void => {
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
};

const start = async (): Promise<void> => {
  const config = loadConfig();
  const crest = await startAllInOne(config);
  const log = crest.app.log;
  log.info({ url: crest.url, eventStore: config.CREST_EVENT_STORE, dataDir: config.CREST_DATA_DIR }, 'Crest is up');
  process.stdout.write(`\nCrest is listening on ${crest.url}  (API docs: ${crest.url}/docs)\n`);
  if (crest.adminToken.generated) {
    process.stdout.write(`No CREST_ADMIN_TOKEN was set, so this run uses a generated one (shown once):\n  CREST_ADMIN_TOKEN=${crest.adminToken.token}\n\n`);
  }
  if (crest.webhookSecret.generated) {
    process.stdout.write(`No CREST_PAYMENT_WEBHOOK_SECRET was set, so this run uses a generated one (shown once):\n  CREST_PAYMENT_WEBHOOK_SECRET=${crest.webhookSecret.secret}\n\n`);
  }
  warnIfCustomersUnauthenticated(config);
  onSignals(log, crest.stop);
};

const work = async (role: string | undefined): Promise<void> => {
  const config = loadConfig();
  switch (role) {
    case 'relay': {
      const worker = await startRelayWorker(config);
      const log = pino({ level: config.CREST_LOG_LEVEL, base: { service: 'crest', role: 'relay' } });
      log.info({ topic: config.CREST_RELAY_TOPIC, brokers: config.KAFKA_BROKERS }, 'relaying the event log to Kafka');
      process.stdout.write(`Crest relay is running: event log -> Kafka topic ${config.CREST_RELAY_TOPIC} at ${config.KAFKA_BROKERS}; health and metrics on ${worker.url}\n`);
      onSignals(log, worker.stop);
      return;
    }
    case 'inventory':
    case 'projections':
    case 'sagas':
      return runRole(role, config);
    default:
      process.stderr.write(`Unknown role "${role ?? ''}" for crest work; available: inventory, projections, sagas, relay.\n\n${usage}\n`);
      process.exitCode = 2;
  }
};

const runRole = async (role: 'serve' | 'inventory' | 'projections' | 'sagas', config: ReturnType<typeof loadConfig>): Promise<void> => {
  const log = pino({ level: config.CREST_LOG_LEVEL, base: { service: 'crest', role } });
  const running = await startRole(role, config, { logger: log });
  process.stdout.write(`Crest ${role === 'serve' ? 'API node' : `${role} worker`} is running (${role === 'serve' ? 'API' : 'health and metrics'} on ${running.url})\n`);
  if (role === 'serve') warnIfCustomersUnauthenticated(config);
  onSignals(log, running.stop);
};

/** An embedded log must exist before a command reads it: opening the store would create an empty one. */
const requireLog = (config: ReturnType<typeof loadConfig>): void => {
  if (config.CREST_EVENT_STORE === 'sqlite' && !existsSync(join(config.CREST_DATA_DIR, 'crest.sqlite'))) {
    throw new UsageError(`no event log at ${join(config.CREST_DATA_DIR, 'crest.sqlite')} (set CREST_DATA_DIR, or the cluster's event store settings)`);
  }
};

/** `crest events export|state`: reads the log the config points at; a bad invocation is one line and exit code 2. */
const events = async (sub: string | undefined, args: readonly string[]): Promise<number> => {
  const io = { stdout: process.stdout, stderr: process.stderr };
  try {
    if (sub !== 'export' && sub !== 'state' && sub !== 'query') throw new UsageError(`crest events needs export, state or query, got "${sub ?? ''}"`);
    const queryArgs = sub === 'query' ? parseQueryArgs(args) : undefined;
    if (queryArgs?.from) {
      await queryEvents(queryArgs.sql, { file: queryArgs.from }, io);
      return 0;
    }
    const config = loadConfig();
    requireLog(config);
    const exportOptions = sub === 'export' ? parseExportArgs(args) : undefined;
    const stateArgs = sub === 'state' ? parseStateArgs(args) : undefined;
    const stores = openStores(config);
    try {
      if (exportOptions) await exportEvents(stores.events, exportOptions, io);
      else if (queryArgs) await queryEvents(queryArgs.sql, { store: stores.events }, io);
      else process.stdout.write(`${JSON.stringify(await stateAt(stores.events, stores.snapshots, stateArgs!.stream, stateArgs!.at), null, 2)}\n`);
    } finally {
      await stores.events.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`crest events: ${error.message.split('\n').join(' ')}\n`);
      return 2;
    }
    throw error;
  }
};

/** `crest projections rebuild`: a client of the running process's admin API; a bad invocation is one line and exit code 2. */
const projections = async (args: readonly string[]): Promise<number> => {
  try {
    const parsed = parseRebuildArgs(args);
    const config = loadConfig();
    if (!config.CREST_ADMIN_TOKEN) throw new UsageError('set CREST_ADMIN_TOKEN to the admin token of the running Crest (crest start prints it when it generates one)');
    const interrupted = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    return await runRebuild(parsed, { url: parsed.url ?? `http://127.0.0.1:${config.PORT}`, adminToken: config.CREST_ADMIN_TOKEN, interrupted }, { stdout: process.stdout, stderr: process.stderr });
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`crest projections: ${error.message.split('\n').join(' ')}\n`);
      return 2;
    }
    throw error;
  }
};

/** `crest backup|restore <file>` on the embedded store; a refusal is one line and exit code 2, as for `crest events`. */
const backupOrRestore = async (command: 'backup' | 'restore', args: readonly string[]): Promise<number> => {
  const io = { stdout: process.stdout, stderr: process.stderr };
  try {
    const { file, verify } = parseBackupArgs(command, args);
    const config = loadConfig();
    // Ctrl-C stops at the next step and removes the unfinished copy
    const interrupted = new AbortController();
    process.once('SIGINT', () => interrupted.abort());
    if (verify) {
      requireLog(config);
      const stores = openStores(config);
      try {
        await verifyStore(stores.events, `the ${config.CREST_EVENT_STORE} event store`, io, interrupted.signal);
      } finally {
        await stores.events.close();
      }
    } else if (command === 'restore') await restoreStore(file!, embeddedStoreOf(command, config), io, { signal: interrupted.signal });
    else await backupStore(embeddedStoreOf(command, config), file!, io, { signal: interrupted.signal });
    return 0;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`crest ${command}: ${error.message.split('\n').join(' ')}\n`);
      return 2;
    }
    throw error;
  }
};

const parseQueryArgs = (args: readonly string[]): { sql: string; from: string | undefined } => {
  let parsed: { values: { from?: string }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: { from: { type: 'string' } } }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== 1) throw new UsageError('crest events query takes one SQL text in quotes, over a view named events');
  return { sql: parsed.positionals[0]!, from: parsed.values.from };
};

const parseStateArgs = (args: readonly string[]): { stream: string; at: { position?: number; time?: number } } => {
  let parsed: { values: { at?: string }; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], allowPositionals: true, options: { at: { type: 'string' } } }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals.length !== 1) throw new UsageError('crest events state takes one stream, such as inventory-SNEAKER-42 or order-ord_…');
  return { stream: parsed.positionals[0]!, at: parseAt(parsed.values.at) };
};

const main = async (argv: readonly string[]): Promise<void> => {
  const [command, role] = argv;
  switch (command) {
    case 'start':
      return start();
    case 'work':
      return work(role);
    case 'serve':
      return runRole('serve', loadConfig());
    case 'events':
      process.exitCode = await events(role, argv.slice(2));
      return;
    case 'projections':
      process.exitCode = await projections(argv.slice(1));
      return;
    case 'backup':
    case 'restore':
      process.exitCode = await backupOrRestore(command, argv.slice(1));
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${usage}\n`);
      return;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${usage}\n`);
      process.exitCode = 2;
  }
};

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DataDirHeldError) {
    process.stderr.write(`crest: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`crest: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
