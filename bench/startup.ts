/**
 * Time from `crest start` to ready (read models rebuilt from the log) over an existing data directory.
 * Usage: npx tsx bench/startup.ts <dataDir>
 */
import { cpus } from 'node:os';
import pino from 'pino';
import { parseConfig } from '../infra/config/config';
import { startAllInOne, Tokens } from '../infra/composition/root';

const main = async (dataDir: string): Promise<void> => {
  const started = performance.now();
  const crest = await startAllInOne(parseConfig({}, { PORT: '0', CREST_DATA_DIR: dataDir, CREST_ADMIN_TOKEN: 'bench-admin-token-0000', CREST_LOG_LEVEL: 'warn' }), {
    logger: pino({ level: 'warn' }),
  });
  const listening = performance.now();
  const progress = crest.container.get(Tokens.Progress);
  while (!progress.ready()) await new Promise((r) => setTimeout(r, 5));
  const ready = performance.now();
  const head = await crest.container.get(Tokens.EventStore).headPosition();
  console.log(`conditions: ${cpus().length} CPUs, node ${process.version}, SQLite event store, in-memory read models, ${head?.toLocaleString('en')} events`);
  console.log(`listening after ${((listening - started) / 1000).toFixed(2)} s; ready (read models caught up) after ${((ready - started) / 1000).toFixed(2)} s`);
  console.log(`rebuild rate: ${Math.round((head ?? 0) / ((ready - started) / 1000)).toLocaleString('en')} events/s`);
  await crest.stop();
};

void main(process.argv[2] ?? './data');
