/**
 * rebuild: projection rebuild throughput into memory (ProjectionRunner + MemoryReadModels, the four read models
 * `crest start` runs) over a seeded SQLite log, against a raw read of the same log in pages of the same size.
 */
import { ProjectionRunner } from '../../projections/projection-runner';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from '../../projections/read-models';
import { MemoryReadModels } from '../../infra/memory/memory-read-models';
import type { ReadModelStore } from '../../projections/ports';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { fmt, type Bench, type Scenario } from '../harness';
import { describeLog, seededLog } from '../support/seeded-log';

const BATCH = 1000; // CREST_PROJECTION_BATCH default
const SKUS = 1000;

/** Reads the whole log through the store port, page by page: what any projection has to pay before folding. */
export const rawRead = async (store: SqliteEventStore, batch: number): Promise<{ events: number; seconds: number }> => {
  const started = performance.now();
  let after = 0;
  let events = 0;
  for (;;) {
    const page = await store.readAll({ after, maxCount: batch });
    if (page.length === 0) break;
    events += page.length;
    after = page[page.length - 1]!.position;
  }
  return { events, seconds: (performance.now() - started) / 1000 };
};

/** Replays the log into fresh in-memory read models and resolves when the runner has caught up. */
export const projectAll = async (store: SqliteEventStore, batch: number, target: ReadModelStore = new MemoryReadModels()): Promise<{ events: number; seconds: number }> => {
  let caughtUp!: (result: { events: number; seconds: number }) => void;
  let failed!: (error: unknown) => void;
  const done = new Promise<{ events: number; seconds: number }>((resolve, reject) => {
    caughtUp = resolve;
    failed = reject;
  });
  const started = performance.now();
  const runner = new ProjectionRunner(
    store,
    target,
    {
      batchApplied: () => {},
      caughtUp: (_name, _position, _seconds, events) => caughtUp({ events, seconds: (performance.now() - started) / 1000 }),
      failed: (_name, error) => failed(error),
      skipped: () => {},
      checkpointAheadOfLog: () => {},
      catchingUp: () => {},
    },
    { name: 'read-models', projections: [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection], batchSize: batch, poisonPolicy: 'stop' },
  );
  await runner.start();
  try {
    return await done;
  } finally {
    await runner.stop();
  }
};

export const rebuild: Scenario = {
  name: 'rebuild',
  description: 'projection rebuild into in-memory read models (ProjectionRunner + MemoryReadModels) over a seeded SQLite log',
  async run(bench: Bench) {
    const events = bench.options.events?.[0] ?? 1_000_000;
    const log = await seededLog(events, SKUS, (l) => bench.log(l));
    bench.condition('data', describeLog(log));
    bench.condition('store', `SQLite WAL (reads only), pages of ${BATCH} events (CREST_PROJECTION_BATCH default), OS page cache warm after the warm-up round`);
    bench.condition('read models', 'products, inventory, orders, customer orders (the set `crest start` runs), in process memory, from empty each round');
    bench.metric({ id: 'crest', label: 'crest rebuild (4 read models)', unit: 'events/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'raw', label: 'raw read of the log (readAll pages)', unit: 'events/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'crestTime', label: 'crest rebuild time', unit: 's', role: 'crest', chart: 'time' });
    bench.metric({ id: 'rawTime', label: 'raw read time', unit: 's', role: 'baseline', chart: 'time' });

    const store = new SqliteEventStore({ file: log.file, synchronous: 'FULL' });
    try {
      await bench.runRounds(async (index) => {
        // alternate the order so that neither side always runs on a warmer cache or heap
        const order = index % 2 === 0 ? ['raw', 'crest'] : ['crest', 'raw'];
        const line: string[] = [];
        for (const which of order) {
          const r = which === 'raw' ? await rawRead(store, BATCH) : await projectAll(store, BATCH);
          bench.record(which, r.events / r.seconds);
          bench.record(`${which}Time`, r.seconds);
          line.push(`${which} ${fmt(r.events / r.seconds, 'events/s')} (${r.events.toLocaleString('en')} in ${r.seconds.toFixed(2)} s)`);
        }
        (globalThis as { gc?: () => void }).gc?.();
        bench.log(`  ${line.join(' | ')}`);
      });
    } finally {
      await store.close();
    }
    bench.ratio('crest/raw-read', 'crest', 'raw');
    bench.target('rebuild throughput', 'crest', '>=', 200_000, 'events/s');
  },
};
