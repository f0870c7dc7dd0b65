/**
 * hot-sku-inprocess: durable reservations on ONE SKU through Crest's InventoryWriter (group commit, SQLite WAL,
 * synchronous=FULL), in process, thousands in flight; against Redis Lua, bare SQLite, Crest's store alone, a naive
 * event-sourced handler and Emmett, all measured in the same run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InventoryWriter } from '../../commands/inventory/inventory-writer';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { SqliteSnapshotStore } from '../../infra/sqlite/sqlite-snapshot-store';
import { emmettLocked, emmettUnlockedProbeIsolated, emmettVersion, loadEmmett } from '../baselines/emmett';
import { naiveHandler } from '../baselines/naive-handler';
import { rawSqliteBatched, storeOnlyAppends } from '../baselines/raw-sqlite';
import { connectRedis, type RedisBaseline } from '../baselines/redis-lua';
import { fmt, type Bench, type Scenario } from '../harness';

const IN_FLIGHT = 4000;
const REDIS_IN_FLIGHT = 64;
const NAIVE_COMMANDS = 1000;
const NAIVE_IN_FLIGHT = 64;
const EMMETT_COMMANDS = 300;
const EMMETT_IN_FLIGHT = 64;

const freshDir = () => mkdtempSync(join(tmpdir(), 'crest-bench-hot-'));

interface WriterRun {
  readonly perSec: number;
  readonly meanBatch: number;
  readonly appends: number;
  readonly meanAppendMs: number;
}

/** Crest: `ops` reservations of one unit each, `inFlight` outstanding at any time, each acknowledged only once durable. */
export const crestWriterRun = async (dir: string, ops: number, inFlight: number): Promise<WriterRun> => {
  const store = new SqliteEventStore({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' });
  const batches: number[] = [];
  let appendMs = 0;
  const writer = new InventoryWriter('HOT', {
    store,
    snapshots: new SqliteSnapshotStore(store.db),
    clock: { now: () => new Date() },
    ids: { next: () => randomUUID() },
    observer: {
      batchCommitted: (_sku, commands, _events, ms) => {
        batches.push(commands);
        appendMs += ms;
      },
      commandDecided: () => {},
      conflict: () => {},
      loaded: () => {},
      snapshotFailed: () => {},
    },
    // the composition root's defaults: CREST_WRITER_MAX_BATCH=2000, CREST_SNAPSHOT_EVERY=1000
    options: { maxBatch: 2000, snapshotEvery: 1000, maxConflictRetries: 5 },
  });
  const ctx = { commandId: 'bench', correlationId: 'bench' };
  await writer.submit({ type: 'ReceiveStock', sku: 'HOT', receiptId: 'r', quantity: ops }, ctx);
  batches.length = 0;
  appendMs = 0;
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  let next = 0;
  let ok = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < ops) {
        const i = next++;
        const outcome = await writer.submit({ type: 'ReserveStock', sku: 'HOT', orderId: `o-${i}`, quantity: 1, expiresAt }, ctx);
        if (outcome.ok) ok++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  writer.stop();
  await store.close();
  if (ok !== ops) throw new Error(`only ${ok} of ${ops} reservations were accepted`);
  return { perSec: ok / seconds, meanBatch: batches.reduce((a, b) => a + b, 0) / batches.length, appends: batches.length, meanAppendMs: appendMs / batches.length };
};

export const hotSkuInProcess: Scenario = {
  name: 'hot-sku-inprocess',
  description: 'durable reservations on one hot SKU through the InventoryWriter, in process (SQLite WAL, synchronous=FULL)',
  async run(bench: Bench) {
    const ops = bench.options.ops ?? 200_000;
    bench.condition('store', 'SQLite WAL, synchronous=FULL (fsync per commit), better-sqlite3, a fresh file per round under the OS temp dir');
    bench.condition('workload', `${ops.toLocaleString('en')} ReserveStock of 1 unit on one SKU per round, ${IN_FLIGHT} in flight, each acknowledged after its append returned`);
    bench.condition('process', 'everything in the harness process (no HTTP)');

    bench.metric({ id: 'crest', label: `crest InventoryWriter (${IN_FLIGHT} in flight)`, unit: 'ops/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'redis', label: `redis-lua (${REDIS_IN_FLIGHT} in flight)`, unit: 'ops/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'raw100', label: 'raw SQLite, batches of 100 + revision check', unit: 'events/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'store2000', label: "Crest's store alone, 2000-event appends", unit: 'events/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'naive', label: `naive handler (${NAIVE_IN_FLIGHT} in flight)`, unit: 'ops/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'emmett', label: 'Emmett CommandHandler + lock', unit: 'ops/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'batch', label: 'crest mean commands per append', unit: 'x', role: 'crest', chart: 'none' });
    bench.metric({ id: 'appendMs', label: 'crest mean append (fsync) time', unit: 'ms', role: 'crest', chart: 'none' });

    let redis: RedisBaseline | undefined;
    const connected = await connectRedis(bench.options.redisUrl);
    if ('unavailable' in connected) {
      bench.skip('redis', `${connected.unavailable}; start one (infra/local) or pass --redis URL`);
      bench.condition('redis', 'not reachable: the Redis Lua baseline and the crest/redis-lua target are skipped');
    } else {
      redis = connected;
      bench.condition('redis', connected.describe);
    }

    const emmett = await loadEmmett();
    if ('unavailable' in emmett) {
      bench.skip('emmett', emmett.unavailable);
    } else {
      const dir = freshDir();
      try {
        const { run: probe, synchronous: sync } = await emmettUnlockedProbeIsolated(dir, 200, EMMETT_IN_FLIGHT, 10);
        bench.condition('emmett', `${emmettVersion()}; node-sqlite3 connection default synchronous=${sync}, journal_mode=WAL`);
        const probeText = `unlocked probe in a separate process (200 commands, ${EMMETT_IN_FLIGHT} concurrent, no lock): ${probe.accepted} accepted, ${probe.failed} failed, ${probe.hung} still hanging after ${probe.seconds.toFixed(0)} s${probe.errors.length ? ` (${probe.errors.join('; ')})` : ''}`;
        bench.note(
          `Emmett variant: CommandHandler behind an in-process lock per stream (commands on the stream run one at a time), ${EMMETT_COMMANDS} commands per round on a fresh stream. ` +
            `Why: 0.38.5 is not safe under concurrent commands on one stream; ${probeText}.`,
        );
        bench.metricNote('emmett', 'locked variant (see notes)');
      } catch (error) {
        bench.note(`Emmett unlocked probe failed outright: ${error instanceof Error ? error.message : String(error)}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }

    const naiveNotes: string[] = [];
    const redisFailures: string[] = [];
    await bench.runRounds(async (_index, warm) => {
      const dir = freshDir();
      try {
        const crest = await crestWriterRun(dir, ops, IN_FLIGHT);
        bench.record('crest', crest.perSec);
        bench.record('batch', crest.meanBatch);
        bench.record('appendMs', crest.meanAppendMs);
        const line = [`crest ${fmt(crest.perSec, 'ops/s')} (mean batch ${crest.meanBatch.toFixed(0)}, ${crest.appends} appends, mean append ${crest.meanAppendMs.toFixed(1)} ms)`];
        if (redis) {
          try {
            const r = await redis.run(ops, REDIS_IN_FLIGHT);
            bench.record('redis', r.opsPerSec);
            line.push(`redis-lua ${fmt(r.opsPerSec, 'ops/s')}`);
          } catch (error) {
            // Redis is run by another process (infra/local) and may go away mid-run: that round has no Redis figure
            const why = error instanceof Error ? error.message : String(error);
            redisFailures.push(why);
            line.push(`redis-lua failed (${why})`);
            await redis.close().catch(() => undefined);
            const again = await connectRedis(bench.options.redisUrl);
            redis = 'unavailable' in again ? undefined : again;
          }
        }
        const raw = rawSqliteBatched(dir, ops, 100);
        bench.record('raw100', raw.eventsPerSec);
        line.push(`raw-sqlite ${fmt(raw.eventsPerSec, 'events/s')}`);
        const storeOnly = await storeOnlyAppends(dir, ops, 2000);
        bench.record('store2000', storeOnly.eventsPerSec);
        line.push(`store-only ${fmt(storeOnly.eventsPerSec, 'events/s')}`);
        const naive = await naiveHandler(dir, NAIVE_COMMANDS, NAIVE_IN_FLIGHT, 15);
        bench.record('naive', naive.commandsPerSec);
        line.push(`naive ${fmt(naive.commandsPerSec, 'ops/s')} (${naive.accepted} in ${naive.seconds.toFixed(1)} s, ${naive.conflicts} conflicts)`);
        if (!warm) naiveNotes.push(`${naive.accepted} accepted in ${naive.seconds.toFixed(1)} s with ${naive.conflicts} conflicts, ${naive.gaveUp} gave up`);
        if (!('unavailable' in emmett)) {
          const e = await emmettLocked(emmett, dir, EMMETT_COMMANDS, EMMETT_IN_FLIGHT, 20);
          bench.record('emmett', e.commandsPerSec);
          line.push(`emmett ${fmt(e.commandsPerSec, 'ops/s')} (${e.accepted} in ${e.seconds.toFixed(1)} s${e.failed ? `, ${e.failed} failed: ${e.errors.join('; ')}` : ''})`);
        }
        bench.log(`  ${line.join(' | ')}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    await redis?.close();
    if (redisFailures.length > 0) bench.note(`the Redis baseline failed in ${redisFailures.length} round(s) (${redisFailures.join('; ')}); ratios use only rounds with both figures`);

    bench.note(`naive handler: load the whole stream, fold, decide, append with the expected revision, retry on conflict; ${NAIVE_COMMANDS} commands per round, ${NAIVE_IN_FLIGHT} in flight, at most 15 s; per round: ${naiveNotes.join(' / ')}`);
    bench.note('raw SQLite: minimal schema (events + streams head), one IMMEDIATE transaction per 100 events that reads and checks the head revision; store-only: SqliteEventStore.appendToStream with 2000 ready-made events per call (Crest schema and indexes, no writer).');
    bench.ratio('crest/redis-lua', 'crest', 'redis');
    bench.ratio('crest/raw-sqlite-batch-100', 'crest', 'raw100');
    bench.ratio('crest/store-only-2000', 'crest', 'store2000');
    bench.ratio('crest/naive', 'crest', 'naive');
    bench.ratio('crest/emmett-locked', 'crest', 'emmett');
    bench.target('durable reservations on one SKU', 'crest', '>=', 200_000, 'ops/s', 'issue 12; was 100k');
    bench.target('crest/redis-lua (64 in flight)', 'ratio:crest/redis-lua', '>=', 1.3, 'x');
  },
};
