#!/usr/bin/env -S npx tsx
import { ConfigError, loadConfig } from '../config/config';
import { startAllInOne } from '../composition/root';

const usage = `Usage: crest <command>

Commands:
  start     Run every role in one process.
            Embedded adapters by default: SQLite events in CREST_DATA_DIR, in-memory read models.
  help      Show this help.

Configuration comes from environment variables; see README.md ("Configuration").`;

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
  const shutdown = (signal: string): void => {
    log.info({ signal }, 'shutting down');
    crest.stop().then(
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

const main = async (argv: readonly string[]): Promise<void> => {
  const [command] = argv;
  switch (command) {
    case 'start':
      return start();
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
