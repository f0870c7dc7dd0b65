#!/usr/bin/env -S npx tsx
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/config';
import { startAllInOne, startRelayWorker } from '../composition/root';
import { startRole } from '../composition/roles';

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

const main = async (argv: readonly string[]): Promise<void> => {
  const [command, role] = argv;
  switch (command) {
    case 'start':
      return start();
    case 'work':
      return work(role);
    case 'serve':
      return runRole('serve', loadConfig());
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
  if (error instanceof ConfigError) {
    process.stderr.write(`crest: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`crest: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
