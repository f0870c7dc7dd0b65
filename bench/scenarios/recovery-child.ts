/**
 * One `crest start` over an existing data directory, in its own process (forked by the recovery scenario):
 * reports when it listened and when GET /health/ready first answered 200 (what a load balancer waits for: the read
 * models caught up and the checkout saga started), then stops.
 */
import pino from 'pino';
import { startAllInOne, Tokens } from '../../infra/composition/root';
import { parseConfig } from '../../infra/config/config';
import { BENCH_OVERRIDES } from '../support/crest';

export interface RecoveryReport {
  readonly listeningS: number;
  readonly readyS: number;
  /** When the read models alone had caught up (at or before readyS). */
  readonly readModelsReadyS: number;
  readonly head: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
}

const main = async (dataDir: string, readModels: string): Promise<void> => {
  const started = performance.now();
  const config = parseConfig({}, { ...BENCH_OVERRIDES, CREST_DATA_DIR: dataDir, CREST_READ_MODELS: readModels });
  const crest = await startAllInOne(config, { logger: pino({ level: 'silent' }) });
  const listening = performance.now();
  const progress = crest.container.get(Tokens.Progress);
  let readModelsReady: number | undefined;
  for (;;) {
    if (readModelsReady === undefined && progress.ready()) readModelsReady = performance.now();
    if ((await fetch(`${crest.url}/health/ready`)).status === 200) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const ready = performance.now();
  const head = (await crest.container.get(Tokens.EventStore).headPosition()) ?? 0;
  const memory = process.memoryUsage();
  const report: RecoveryReport = {
    listeningS: (listening - started) / 1000,
    readyS: (ready - started) / 1000,
    readModelsReadyS: ((readModelsReady ?? ready) - started) / 1000,
    head,
    rssMiB: memory.rss / 2 ** 20,
    heapMiB: memory.heapUsed / 2 ** 20,
  };
  process.send?.(report);
  await crest.stop();
};

main(process.argv[2] ?? '', process.argv[3] ?? 'memory').then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`recovery child failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
