/**
 * cluster-wrk: what the Kafka hop costs. The same wrk load (bench/wrk/orders.lua) against embedded `crest start` and
 * against a cluster on this machine (an API node, inventory workers on Kafka, projections and sagas workers), all as
 * child processes over one SQLite file, in the same run. At 1 connection the p50s give the hop's added latency; at
 * --connections (64) the goodputs give the cluster/embedded ratio.
 *
 * cluster-scaling: the cluster alone with 1, 2 and 4 inventory workers over 4, 8 and 16 partitions, one wrk run each.
 *
 * Both need Kafka, Redis and FerretDB (npm run services:up): the cluster's read models are in FerretDB, which shares the
 * 2 cores with everything else; embedded keeps them in memory.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fmt, type Bench, type Scenario } from '../harness';
import { TestCluster, type RoleProcess } from '../../test/support/cluster';
import { SKUS } from './hot-sku-http';
import { statCpuSeconds, wrk } from './hot-sku-wrk';

const STOCK = 1_000_000;

/** CPU seconds (user + system) of each process, from /proc (Linux; empty elsewhere). */
const cpuSeconds = (pids: ReadonlyMap<string, number>): Map<string, number> => {
  const out = new Map<string, number>();
  for (const [name, pid] of pids) {
    try {
      out.set(name, statCpuSeconds(`/proc/${pid}/stat`));
    } catch {
      // gone, or not Linux
    }
  }
  return out;
};

/** The cluster's processes and the local servers', by name (the servers' pids from services.sh's pid files). */
const processes = (cluster: TestCluster): Map<string, number> => {
  const pids = new Map<string, number>();
  for (const p of cluster.procs) if (p.child.pid && p.child.exitCode === null) pids.set(p.name, p.child.pid);
  const state = resolve(__dirname, '../../.crest-local');
  for (const [name, file] of [['kafka', 'kafka/kafka.pid'], ['redis', 'redis/redis.pid'], ['ferretdb', 'ferretdb/ferretdb.pid']] as const) {
    try {
      pids.set(name, Number(readFileSync(join(state, file), 'utf8').trim()));
    } catch {
      // not started by services.sh
    }
  }
  return pids;
};

/** "api 85%, kafka 40%, …": CPU per process over `seconds` (100% = one core), busiest first. */
const cpuShare = (before: Map<string, number>, after: Map<string, number>, seconds: number): string =>
  [...after]
    .map(([name, used]) => [name, (used - (before.get(name) ?? used)) / seconds] as const)
    .sort(([, a], [, b]) => b - a)
    .map(([name, share]) => `${name} ${Math.round(share * 100)}%`)
    .join(', ');

/** Settings on top of the test cluster's (FerretDB read models, Redis cache, rate limits and shedding off). */
const clusterEnv = (partitions: number): Record<string, string> => ({
  CREST_INVENTORY_PARTITIONS: String(partitions),
  CREST_INVENTORY_SESSION_TIMEOUT_MS: '3000',
  CREST_LOG_LEVEL: 'error',
});

const embeddedEnv: Record<string, string> = { CREST_INVENTORY: 'local', CREST_READ_MODELS: 'memory', CREST_CACHE: 'memory', CREST_RELAY: 'off' };

interface Running {
  readonly cluster: TestCluster;
  readonly url: string;
}

/** A cluster (or, with `embedded`, one `crest start`) with the hot SKUs seeded. */
const start = async (options: { embedded?: boolean; workers?: number; partitions?: number; withProjections?: boolean }): Promise<Running> => {
  const cluster = new TestCluster({ env: clusterEnv(options.partitions ?? 12) });
  try {
    let api: RoleProcess;
    if (options.embedded) api = await cluster.launch('embedded', ['start'], embeddedEnv);
    else {
      await cluster.launch('inventory-1', ['work', 'inventory']);
      await Promise.all(Array.from({ length: (options.workers ?? 1) - 1 }, (_, i) => cluster.launch(`inventory-${i + 2}`, ['work', 'inventory'])));
      if (options.withProjections !== false) await Promise.all([cluster.launch('projections', ['work', 'projections']), cluster.launch('sagas', ['work', 'sagas'])]);
      api = await cluster.launch('api', ['serve']);
    }
    await cluster.seed(SKUS, STOCK);
    return { cluster, url: api.url };
  } catch (error) {
    await cluster.dispose();
    throw error;
  }
};

/** A fresh wrk run id: customers and idempotency keys never repeat across runs. */
const runId = (tag: string) => `${tag}-${randomBytes(4).toString('hex')}`;

export const clusterWrk: Scenario = {
  name: 'cluster-wrk',
  description: 'POST /v1/orders with wrk: embedded crest start vs a cluster on Kafka (API, inventory worker, projections, sagas), at 1 and N connections',
  defaultRounds: 3,
  async run(bench: Bench) {
    const seconds = bench.options.durationS ?? 10;
    const connections = bench.options.connections ?? 64;
    bench.condition('embedded', 'crest start as a child process: SQLite event store (synchronous FULL), memory read models, memory cache');
    bench.condition('cluster', 'crest serve + crest work inventory (12 partitions, session timeout 3 s) + projections + sagas as child processes over one SQLite file; FerretDB read models; Redis cache; Kafka 4.1.1 KRaft on this machine');
    bench.condition('load', `wrk -t1 -c1 and -c${connections}, -d${seconds}s each (bench/wrk/orders.lua): 1 unit per order over ${SKUS.length} hot SKUs of ${STOCK.toLocaleString('en')} units; 2 cores shared by every process`);
    bench.metric({ id: 'cluster', label: `cluster goodput, ${connections} connections`, unit: 'req/s', role: 'crest', chart: 'throughput' });
    bench.metric({ id: 'embedded', label: `embedded goodput, ${connections} connections`, unit: 'req/s', role: 'baseline', chart: 'throughput' });
    bench.metric({ id: 'clusterP99', label: `cluster p99, ${connections} connections`, unit: 'ms', role: 'crest', chart: 'latency' });
    bench.metric({ id: 'embeddedP99', label: `embedded p99, ${connections} connections`, unit: 'ms', role: 'baseline', chart: 'latency' });
    bench.metric({ id: 'clusterP50c1', label: 'cluster p50, 1 connection', unit: 'ms', role: 'crest', chart: 'none' });
    bench.metric({ id: 'embeddedP50c1', label: 'embedded p50, 1 connection', unit: 'ms', role: 'baseline', chart: 'none' });
    bench.metric({ id: 'hop', label: 'p50 added by the Kafka hop, 1 connection', unit: 'ms', role: 'crest', chart: 'none' });
    const embedded = await start({ embedded: true });
    const cluster = await start({}).catch(async (error: unknown) => {
      await embedded.cluster.dispose();
      throw error;
    });
    const cpus: string[] = [];
    try {
      await bench.runRounds(async () => {
        const e1 = await wrk(embedded.url, 'orders.lua', 1, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId('e1') });
        const c1 = await wrk(cluster.url, 'orders.lua', 1, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId('c1') });
        const eN = await wrk(embedded.url, 'orders.lua', connections, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId('eN') });
        const pids = processes(cluster.cluster);
        const before = cpuSeconds(pids);
        const started = performance.now();
        const cN = await wrk(cluster.url, 'orders.lua', connections, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId('cN') });
        const cpu = cpuShare(before, cpuSeconds(pids), (performance.now() - started) / 1000);
        bench.log(`cluster CPU per process during the ${connections}-connection run (100% = one core): ${cpu}`);
        cpus.push(cpu);
        bench.log(`1 connection: embedded p50 ${fmt(e1.p50, 'ms')}, cluster p50 ${fmt(c1.p50, 'ms')} (${c1.statuses})`);
        bench.log(`${connections} connections: embedded ${fmt(eN.goodput)} req/s p99 ${fmt(eN.p99, 'ms')} (${eN.statuses}); cluster ${fmt(cN.goodput)} req/s p99 ${fmt(cN.p99, 'ms')} (${cN.statuses} ${cN.errors})`);
        bench.record('cluster', cN.goodput);
        bench.record('embedded', eN.goodput);
        bench.record('clusterP99', cN.p99);
        bench.record('embeddedP99', eN.p99);
        bench.record('clusterP50c1', c1.p50);
        bench.record('embeddedP50c1', e1.p50);
        bench.record('hop', c1.p50 - e1.p50);
      });
      if (cpus.length > 0) bench.note(`cluster CPU per process, last ${connections}-connection run (100% = one core): ${cpus[cpus.length - 1]}`);
      bench.ratio('cluster/embedded (wrk)', 'cluster', 'embedded');
      bench.target('cluster goodput vs embedded, same run', 'ratio:cluster/embedded (wrk)', '>=', 0.8, 'x');
      bench.target('p50 added by the Kafka hop at 1 connection', 'hop', '<=', 3, 'ms');
    } finally {
      await cluster.cluster.dispose();
      await embedded.cluster.dispose();
    }
  },
};

export const clusterScaling: Scenario = {
  name: 'cluster-scaling',
  description: 'cluster goodput and p99 with wrk for 1, 2 and 4 inventory workers over 4, 8 and 16 partitions (API node and workers only)',
  defaultRounds: 1,
  defaultWarmup: 0,
  async run(bench: Bench) {
    const seconds = bench.options.durationS ?? 10;
    const connections = bench.options.connections ?? 64;
    bench.condition('cluster', 'crest serve + N × crest work inventory as child processes over one SQLite file, Kafka 4.1.1 KRaft on this machine; no projections or sagas workers (the order path alone)');
    bench.condition('load', `one wrk -t1 -c${connections} -d${seconds}s run per shape after a 3 s warm-up (bench/wrk/orders.lua, ${SKUS.length} hot SKUs); 2 cores shared by every process`);
    const shapes: Array<[number, number]> = [];
    for (const workers of [1, 2, 4]) for (const partitions of [4, 8, 16]) shapes.push([workers, partitions]);
    for (const [workers, partitions] of shapes) {
      bench.metric({ id: `w${workers}p${partitions}`, label: `${workers} worker(s), ${partitions} partitions`, unit: 'req/s', role: 'crest', chart: 'none' });
      bench.metric({ id: `w${workers}p${partitions}p99`, label: `${workers} worker(s), ${partitions} partitions p99`, unit: 'ms', role: 'crest', chart: 'none' });
    }
    await bench.runRounds(async () => {
      for (const [workers, partitions] of shapes) {
        const running = await start({ workers, partitions, withProjections: false });
        try {
          await wrk(running.url, 'orders.lua', connections, 3, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId(`warm-${workers}-${partitions}`) });
          const pids = processes(running.cluster);
          const before = cpuSeconds(pids);
          const started = performance.now();
          const r = await wrk(running.url, 'orders.lua', connections, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: runId(`s-${workers}-${partitions}`) });
          const cpu = cpuShare(before, cpuSeconds(pids), (performance.now() - started) / 1000);
          bench.log(`${workers} worker(s) × ${partitions} partitions: ${fmt(r.goodput)} req/s, p50 ${fmt(r.p50, 'ms')}, p99 ${fmt(r.p99, 'ms')} (${r.statuses} ${r.errors}); CPU ${cpu}`);
          bench.note(`${workers}×${partitions}: CPU per process (100% = one core): ${cpu}`);
          bench.record(`w${workers}p${partitions}`, r.goodput);
          bench.record(`w${workers}p${partitions}p99`, r.p99);
        } finally {
          await running.cluster.dispose();
        }
      }
    });
  },
};
