/**
 * hot-sku-wrk: the hot-SKU HTTP figure with wrk (C, one thread) as the load generator, so the generator takes little
 * of the 2 cores: `POST /v1/orders` on 5 hot SKUs against a bare Fastify no-op POST of the same body size, in the
 * same run. Also reports how the server process's CPU time splits over its threads (event loop, SQLite writer,
 * libuv pool, GC), to show whether both cores work.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Tokens } from '../../infra/composition/root';
import { fmt, type Bench, type Scenario } from '../harness';
import { NOOP_BODY, startBareServer } from '../load/bare-server';
import { describeConfig, startBenchCrest } from '../support/crest';
import { seedHotSkus, SKUS } from './hot-sku-http';

interface WrkRun {
  readonly requestsPerSecond: number;
  readonly goodput: number;
  readonly p50: number;
  readonly p99: number;
  readonly statuses: string;
  readonly errors: string;
}

const scripts = resolve(__dirname, '..', 'wrk');

/** Milliseconds from wrk's "1.23ms" / "456.00us" / "1.02s". */
const ms = (text: string): number => {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
};

export const wrk = (url: string, script: string, connections: number, seconds: number, env: Record<string, string>): Promise<WrkRun> =>
  new Promise((done, fail) => {
    const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', join(scripts, script), url], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`wrk exited ${code}:\n${out}`));
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
      const total = Number(/(\d+) requests in/.exec(out)?.[1]);
      const bad = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
      const errors = /Socket errors:[^\n]*/.exec(out)?.[0] ?? '';
      done({
        requestsPerSecond: rps,
        goodput: total > 0 ? rps * ((total - bad) / total) : 0,
        p50: ms(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
        p99: ms(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
        statuses: /statuses: ([^\n]*)/.exec(out)?.[1] ?? '',
        errors,
      });
    });
  });

/** User + system CPU seconds in a /proc `stat` file (a process's or a thread's; Linux). */
export const statCpuSeconds = (statFile: string): number => {
  const stat = readFileSync(statFile, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ on Linux
};

/** CPU seconds per thread of this process, by thread name, from /proc (Linux). */
const threadCpu = (): Map<string, { name: string; seconds: number }> => {
  const out = new Map<string, { name: string; seconds: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { name, seconds: statCpuSeconds(`/proc/self/task/${tid}/stat`) });
    }
  } catch {
    // not Linux: no split
  }
  return out;
};

const cpuSplit = (before: Map<string, { name: string; seconds: number }>, after: Map<string, { name: string; seconds: number }>, seconds: number): string => {
  const byName = new Map<string, number>();
  for (const [tid, now] of after) {
    const used = now.seconds - (before.get(tid)?.seconds ?? 0);
    if (used <= 0) continue;
    const name = tid === String(process.pid) ? 'event loop' : now.name;
    byName.set(name, (byName.get(name) ?? 0) + used);
  }
  return [...byName]
    .sort(([, a], [, b]) => b - a)
    .map(([name, used]) => `${name} ${Math.round((used / seconds) * 100)}%`)
    .join(', ');
};

export const hotSkuWrk: Scenario = {
  name: 'hot-sku-wrk',
  description: 'POST /v1/orders on 5 hot SKUs with wrk as the generator, vs a bare no-op POST, and CPU per server thread',
  async run(bench: Bench) {
    const seconds = bench.options.durationS ?? 10;
    const connections = bench.options.connections ?? 64;
    const dir = mkdtempSync(join(tmpdir(), 'crest-bench-wrk-'));
    const { crest, config } = await startBenchCrest(dir);
    const bare = await startBareServer();
    try {
      await seedHotSkus(crest.url);
      bench.condition('server', `Crest startAllInOne in the harness process (${describeConfig(config)}), SQLite in a fresh temp dir; bare Fastify in the same process`);
      bench.condition('load', `wrk -t1 -c${connections} -d${seconds}s --latency (bench/wrk/orders.lua, bench/wrk/noop.lua); 2 CPU cores shared by server and wrk`);
      bench.condition('workload', `orders of 1 unit, SKU round-robin over ${SKUS.length} hot SKUs with 4,000,000 units each, a fresh customer and Idempotency-Key per request`);
      bench.condition('goodput', 'requests per second answered 2xx (wrk counts every answer; non-2xx are subtracted)');
      bench.metric({ id: 'crest', label: 'crest POST /v1/orders (wrk)', unit: 'req/s', role: 'crest', chart: 'throughput' });
      bench.metric({ id: 'noop', label: 'bare Fastify no-op POST (wrk)', unit: 'req/s', role: 'baseline', chart: 'throughput' });
      bench.metric({ id: 'crestP50', label: 'crest p50 (wrk)', unit: 'ms', role: 'crest', chart: 'none' });
      bench.metric({ id: 'crestP99', label: 'crest p99 (wrk)', unit: 'ms', role: 'crest', chart: 'latency' });
      bench.metric({ id: 'noopP99', label: 'no-op p99 (wrk)', unit: 'ms', role: 'baseline', chart: 'latency' });
      const splits: string[] = [];
      await bench.runRounds(async (index) => {
        const run = `${randomBytes(4).toString('hex')}-${index}`;
        const before = threadCpu();
        const started = performance.now();
        const orders = await wrk(crest.url, 'orders.lua', connections, seconds, { WRK_SKUS: SKUS.join(','), WRK_RUN: run });
        const split = cpuSplit(before, threadCpu(), (performance.now() - started) / 1000);
        const noop = await wrk(bare.url, 'noop.lua', connections, seconds, { WRK_BODY: NOOP_BODY });
        bench.log(`crest ${fmt(orders.goodput)} req/s (p50 ${fmt(orders.p50, 'ms')}, p99 ${fmt(orders.p99, 'ms')}; ${orders.statuses} ${orders.errors}); no-op ${fmt(noop.goodput)} req/s (p99 ${fmt(noop.p99, 'ms')})`);
        bench.log(`server CPU by thread during the crest run (100% = one core): ${split}`);
        splits.push(split);
        bench.record('crest', orders.goodput);
        bench.record('noop', noop.goodput);
        bench.record('crestP50', orders.p50);
        bench.record('crestP99', orders.p99);
        bench.record('noopP99', noop.p99);
      });
      if (splits.length > 0) bench.note(`server CPU by thread, last crest run (100% = one core): ${splits[splits.length - 1]}`);
      const store = crest.container.get(Tokens.EventStore);
      bench.note(`log head after the runs: ${((await store.headPosition()) ?? 0).toLocaleString('en')}`);
      bench.ratio('crest/no-op (wrk)', 'crest', 'noop');
      bench.target('crest/no-op POST with wrk (goodput)', 'ratio:crest/no-op (wrk)', '>=', 0.5, 'x', 'stretch 0.8x');
      const rounds = bench.series('crest');
      const baseline = bench.series('noop');
      if (rounds.length >= 2) {
        // closed loop only (no overload runs in between), so the log grows only by what Crest acknowledged
        bench.metric({ id: 'drift', label: 'crest goodput, last round / first round (wrk)', unit: 'x', role: 'crest', chart: 'none' });
        bench.once('drift', rounds[rounds.length - 1]! / rounds[0]!);
        bench.target('last round within 10% of the first (wrk)', 'drift', '>=', 0.9, 'x');
        bench.note(`per-round goodput, crest: ${rounds.map((r) => Math.round(r)).join(', ')}; no-op: ${baseline.map((r) => Math.round(r)).join(', ')} req/s`);
      }
    } finally {
      await bare.close();
      await crest.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
