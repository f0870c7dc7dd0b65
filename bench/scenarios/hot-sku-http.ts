/**
 * hot-sku-http: `POST /v1/orders` on 5 hot SKUs against the real app (startAllInOne, rate limits and load shedding
 * off, large stock), against a bare Fastify no-op POST in the same process, in the same run. The load generator is
 * a forked process. After the load: no SKU oversold, checked through the read API with X-Min-Position and against
 * the log itself.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokens } from '../../infra/composition/root';
import { inventoryDecider, type InventoryEvent } from '../../domain/inventory/inventory';
import { fmt, type Bench, type Scenario } from '../harness';
import { NOOP_BODY, startBareServer } from '../load/bare-server';
import { describeRun, GeneratorWatch, LoadGenerator, type LoadRun } from '../load/generator';
import type { LoadSpec } from '../load/protocol';
import { call, describeConfig, startBenchCrest } from '../support/crest';

export const SKUS = ['HOT-1', 'HOT-2', 'HOT-3', 'HOT-4', 'HOT-5'];
const RECEIPTS_PER_SKU = 4; // 1,000,000 units each (the API's largest receipt): 4M per SKU
const DEADLINE_MS = 100;
const LOAD_FRACTION = 0.5;

/** Lists the hot SKUs and receives 4M units of each. */
export const seedHotSkus = async (url: string): Promise<void> => {
  for (const sku of SKUS) {
    const listed = await call(url, 'PUT', `/v1/products/${sku}`, { admin: true, body: { name: `Hot ${sku}`, category: 'flash', priceCents: 1999 } });
    if (listed.status >= 300) throw new Error(`listing ${sku}: ${listed.status}`);
    for (let r = 0; r < RECEIPTS_PER_SKU; r++) {
      const received = await call(url, 'POST', `/v1/inventory/${sku}/receipts`, { admin: true, body: { quantity: 1_000_000, receiptId: `bench-${sku}-${r}` } });
      if (received.status !== 200) throw new Error(`receiving ${sku}: ${received.status}`);
    }
  }
};

/** A closed-loop hot-SKU run (64 connections, 1-unit orders on the hot SKUs, fresh keys): the same-run baseline of other scenarios. */
export const hotSkuClosedRun = (generator: LoadGenerator, origin: string, durationMs: number): Promise<LoadRun> =>
  generator.run({
    origin,
    mode: 'closed',
    connections: 64,
    warmupMs: 500,
    durationMs,
    deadlineMs: 100,
    request: { kind: 'order', skus: SKUS, customers: 10_000, keyPrefix: `hot-${randomBytes(6).toString('hex')}` },
    successStatuses: [200, 201],
  });

interface StockView {
  sku: string;
  received: number;
  adjusted: number;
  available: number;
  reserved: number;
  sold: number;
}

const addOutcomes = (into: Record<string, number>, run: LoadRun) => {
  for (const [k, v] of Object.entries(run.outcomes)) into[k] = (into[k] ?? 0) + v;
};

export const hotSkuHttp: Scenario = {
  name: 'hot-sku-http',
  description: 'POST /v1/orders on 5 hot SKUs against the real app, vs a bare Fastify no-op POST in the same run',
  async run(bench: Bench) {
    const durationMs = (bench.options.durationS ?? 5) * 1000;
    const connections = bench.options.connections ?? 64;
    const dir = mkdtempSync(join(tmpdir(), 'crest-bench-http-'));
    const { crest, config } = await startBenchCrest(dir);
    const bare = await startBareServer();
    const generator = await LoadGenerator.start();
    try {
      await seedHotSkus(crest.url);
      bench.condition('server', `Crest startAllInOne in the harness process (${describeConfig(config)}), SQLite in a fresh temp dir; bare Fastify ${bare.url} in the same process`);
      bench.condition(
        'load',
        `forked generator process (undici Pool, ${connections} keep-alive connections, HTTP/1.1, no pipelining); ${durationMs / 1000} s measured per run after 1 s of unrecorded load; 2 CPU cores shared by server and generator`,
      );
      bench.condition('workload', `orders of 1 unit, SKU round-robin over ${SKUS.length} hot SKUs with ${(RECEIPTS_PER_SKU * 1e6).toLocaleString('en')} units each, a fresh Idempotency-Key per request, 10,000 customers`);
      bench.condition('no-op baseline', `POST /noop with a ${Buffer.byteLength(NOOP_BODY)}-byte JSON body, answered 202 by a bare Fastify 5 app`);
      bench.condition('goodput', `successes (Crest: 201, no-op: 202) answered within ${DEADLINE_MS} ms`);

      bench.metric({ id: 'crest', label: 'crest POST /v1/orders, closed', unit: 'req/s', role: 'crest', chart: 'throughput' });
      bench.metric({ id: 'noop', label: 'bare Fastify no-op POST, closed', unit: 'req/s', role: 'baseline', chart: 'throughput' });
      bench.metric({ id: 'crestP99AtNoop', label: `crest p99, open at ${LOAD_FRACTION * 100}% of no-op rate`, unit: 'ms', role: 'crest', chart: 'latency' });
      bench.metric({ id: 'crestP99AtOwn', label: `crest p99, open at ${LOAD_FRACTION * 100}% of own rate`, unit: 'ms', role: 'crest', chart: 'latency' });
      bench.metric({ id: 'noopP99', label: `no-op p99, open at ${LOAD_FRACTION * 100}% of no-op rate`, unit: 'ms', role: 'baseline', chart: 'latency' });
      bench.metric({ id: 'crestClosedP99', label: 'crest p99, closed', unit: 'ms', role: 'crest', chart: 'none' });
      bench.metric({ id: 'noopClosedP99', label: 'no-op p99, closed', unit: 'ms', role: 'baseline', chart: 'none' });
      bench.metric({ id: 'crestGoodputAtNoop', label: `crest goodput, open at ${LOAD_FRACTION * 100}% of no-op rate`, unit: 'req/s', role: 'crest', chart: 'none' });

      const totals: Record<string, number> = {};
      let created = 0;
      const keyPrefix = () => `bench-${randomBytes(6).toString('hex')}`;
      const base = { origin: '', connections, warmupMs: 1000, durationMs, deadlineMs: DEADLINE_MS };
      const orders = (): LoadSpec['request'] => ({ kind: 'order', skus: SKUS, customers: 10_000, keyPrefix: keyPrefix() });
      const crestSpec = (mode: 'closed' | 'open', rate?: number): LoadSpec => ({
        ...base,
        origin: crest.url,
        mode,
        ...(rate === undefined ? {} : { rate }),
        request: orders(),
        successStatuses: [200, 201],
      });
      const noopSpec = (mode: 'closed' | 'open', rate?: number): LoadSpec => ({
        ...base,
        origin: bare.url,
        mode,
        ...(rate === undefined ? {} : { rate }),
        request: { kind: 'post', path: '/noop', body: NOOP_BODY },
        successStatuses: [202],
      });
      const onCrest = (label: string, run: LoadRun) => {
        watch.see(label, run);
        addOutcomes(totals, run);
        created += run.outcomes['201'] ?? 0;
        bench.log(describeRun(label, run));
        return run;
      };
      let lastRuns: Record<string, LoadRun> = {};
      const watch = new GeneratorWatch();

      await bench.runRounds(async (index) => {
        const closed: Record<string, LoadRun> = {};
        // alternate which side goes first, so that neither always runs on the warmer (or more loaded) process
        for (const side of index % 2 === 0 ? ['crest', 'noop'] : ['noop', 'crest']) {
          closed[side] = side === 'crest' ? onCrest('crest closed', await generator.run(crestSpec('closed'))) : await generator.run(noopSpec('closed'));
          if (side === 'noop') bench.log(describeRun('no-op closed', closed.noop!));
        }
        const crestClosed = closed.crest!;
        const noopClosed = closed.noop!;
        bench.record('crest', crestClosed.goodput);
        bench.record('noop', noopClosed.goodput);
        bench.record('crestClosedP99', crestClosed.latency.p99);
        bench.record('noopClosedP99', noopClosed.latency.p99);
        const atNoop = onCrest(`crest open @${fmt(noopClosed.goodput * LOAD_FRACTION)}/s`, await generator.run(crestSpec('open', noopClosed.goodput * LOAD_FRACTION)));
        bench.record('crestP99AtNoop', atNoop.latency.p99);
        bench.record('crestGoodputAtNoop', atNoop.goodput);
        const atOwn = onCrest(`crest open @${fmt(crestClosed.goodput * LOAD_FRACTION)}/s`, await generator.run(crestSpec('open', crestClosed.goodput * LOAD_FRACTION)));
        bench.record('crestP99AtOwn', atOwn.latency.p99);
        const noopOpen = await generator.run(noopSpec('open', noopClosed.goodput * LOAD_FRACTION));
        bench.log(describeRun(`no-op open @${fmt(noopClosed.goodput * LOAD_FRACTION)}/s`, noopOpen));
        bench.record('noopP99', noopOpen.latency.p99);
        lastRuns = { crestClosed, noopClosed, crestOpenAtNoopRate: atNoop, crestOpenAtOwnRate: atOwn, noopOpen };
      });

      // correctness after the load: nothing oversold, the read model agrees with the log, acknowledged orders hold stock
      const store = crest.container.get(Tokens.EventStore);
      const head = (await store.headPosition()) ?? 0;
      let oversold = 0;
      let held = 0;
      const checks: string[] = [];
      for (const sku of SKUS) {
        const view = await call<StockView>(crest.url, 'GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } });
        if (view.status !== 200) throw new Error(`GET /v1/inventory/${sku} with X-Min-Position ${head}: ${view.status}`);
        const v = view.body;
        let state = inventoryDecider.initialState();
        for (const e of await store.readStream(`inventory-${sku}`)) state = inventoryDecider.evolve(state, { type: e.type, data: e.data } as InventoryEvent);
        const over = Math.max(0, v.reserved + v.sold - (v.received + v.adjusted));
        const invariant = v.available + v.reserved + v.sold === v.received + v.adjusted && v.available >= 0 && v.reserved >= 0 && v.sold >= 0;
        const matchesLog = state.reserved === v.reserved && state.sold === v.sold && state.received === v.received;
        if (!invariant || !matchesLog) oversold += 1_000_000_000; // a broken invariant counts as a failure whatever the figures
        oversold += over;
        held += v.reserved + v.sold;
        checks.push(`${sku}: received ${v.received}, reserved ${v.reserved}, sold ${v.sold}, available ${v.available}, invariant ${invariant ? 'ok' : 'BROKEN'}, read model ${matchesLog ? '= log' : '!= LOG'}`);
      }
      bench.metric({ id: 'oversold', label: 'units oversold (all hot SKUs)', unit: 'count', role: 'crest', chart: 'none' });
      bench.detail('stock', checks);
      bench.detail('outcomesAllRuns', totals);
      bench.detail('lastRound', Object.fromEntries(Object.entries(lastRuns).map(([k, r]) => [k, { goodput: Math.round(r.goodput), latency: r.latency, outcomes: r.outcomes, serverCpuPct: Math.round(r.serverCpuPct), generatorCpuPct: Math.round(r.generatorCpuPct) }])));
      bench.note(`stock after all runs (read with X-Min-Position ${head}): ${checks.join('; ')}`);
      bench.note(`201 answers over all runs (warm-up included): ${created.toLocaleString('en')}; units held (reserved + sold): ${held.toLocaleString('en')}; outcomes: ${JSON.stringify(totals)}`);
      if (created > held) bench.note(`ACKNOWLEDGED MORE ORDERS THAN STOCK HELD: ${created} > ${held}`);
      const cpu = lastRuns.crestClosed;
      if (cpu) bench.note(`last round, crest closed: server ${Math.round(cpu.serverCpuPct)}% CPU, generator ${Math.round(cpu.generatorCpuPct)}% CPU (of one core each; 2 cores in all)`);
      const busy = watch.note();
      if (busy) bench.note(busy);
      const noopP99 = bench.median('noopP99');
      if (noopP99 !== undefined && noopP99 > 10) {
        bench.note(`the bare no-op POST itself had a p99 of ${fmt(noopP99, 'ms')} at ${LOAD_FRACTION * 100}% of its closed-model rate (open model): on this shared 2-core machine that rate is at the edge of what generator and server can do together`);
      }
      bench.ratio('crest/no-op', 'crest', 'noop');
      bench.target('crest/no-op POST (closed, goodput)', 'ratio:crest/no-op', '>=', 0.5, 'x', 'stretch 0.8x');
      const rounds = bench.series('crest');
      if (rounds.length >= 2) {
        bench.metric({ id: 'drift', label: 'crest closed goodput, last round / first round', unit: 'x', role: 'crest', chart: 'none' });
        bench.once('drift', rounds[rounds.length - 1]! / rounds[0]!);
        bench.target('last round within 10% of the first', 'drift', '>=', 0.9, 'x');
        // the no-op runs in the same process on the same machine: if it fell as much, the fall is not Crest's
        const baseline = bench.series('noop');
        bench.metric({ id: 'driftVsNoop', label: 'crest/no-op, last round / first round', unit: 'x', role: 'crest', chart: 'none' });
        bench.once('driftVsNoop', rounds[rounds.length - 1]! / baseline[baseline.length - 1]! / (rounds[0]! / baseline[0]!));
        bench.note(`per-round closed goodput, crest: ${rounds.map((r) => Math.round(r)).join(', ')}; no-op: ${baseline.map((r) => Math.round(r)).join(', ')} req/s`);
      }
      bench.target(`p99 at ${LOAD_FRACTION * 100}% of the no-op rate (open model)`, 'crestP99AtNoop', '<=', 10, 'ms');
      bench.once('oversold', oversold + (created > held ? created - held : 0));
      bench.target('oversold units (and invariant, read model = log)', 'oversold', '==', 0, 'count');
    } finally {
      await generator.close();
      await bare.close();
      await crest.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
