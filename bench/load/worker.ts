/**
 * The load generator process (forked by generator.ts, so it does not share the server's event loop).
 * Closed model: N connections, each sending its next request as soon as the previous one answered.
 * Open model: requests on a fixed schedule at a constant rate; latency counts from the INTENDED send time, so a
 * stalled server is charged for the requests it kept waiting (no coordinated omission).
 */
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import type { FromGenerator, LatencySummary, LoadResult, LoadSpec, RequestSpec, ToGenerator } from './protocol';

interface Req {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

const requestFactory = (spec: RequestSpec): (() => Req) => {
  let n = 0;
  switch (spec.kind) {
    case 'order':
      return () => {
        const i = n++;
        const sku = spec.skus[i % spec.skus.length]!;
        return {
          path: '/v1/orders',
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': `${spec.keyPrefix}-${i}` },
          body: `{"customerId":"cust-${i % spec.customers}","lines":[{"sku":"${sku}","quantity":1}]}`,
        };
      };
    case 'post': {
      const req: Req = { path: spec.path, method: 'POST', headers: { 'content-type': 'application/json' }, body: spec.body };
      return () => req;
    }
    case 'get': {
      const reqs = spec.paths.map((path): Req => ({ path, method: 'GET', headers: {} }));
      return () => reqs[n++ % reqs.length]!;
    }
  }
};

const newHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

const summarise = (h: hdr.Histogram): LatencySummary => {
  const ms = (us: number) => us / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: h.totalCount > 0 ? ms(h.mean) : 0,
    count: h.totalCount,
  };
};

const run = async (spec: LoadSpec): Promise<LoadResult> => {
  const pool = new Pool(spec.origin, {
    connections: spec.connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 120_000,
    bodyTimeout: 120_000,
  });
  const next = requestFactory(spec.request);
  const success = new Set(spec.successStatuses);
  const all = newHistogram();
  const ok = newHistogram();
  const outcomes: Record<string, number> = {};
  const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);
  let successes = 0;
  let withinDeadline = 0;
  const deadlineUs = spec.deadlineMs * 1000;

  const t0 = performance.now();
  const measureFrom = t0 + spec.warmupMs;
  const measureTo = measureFrom + spec.durationMs;
  let closed = false;
  const recordOne = (key: string, startedAt: number, isSuccess: boolean) => {
    if (closed || startedAt < measureFrom || startedAt >= measureTo) return;
    const us = Math.max(1, Math.round((performance.now() - startedAt) * 1000));
    count(key);
    all.recordValue(us);
    if (isSuccess) {
      successes++;
      ok.recordValue(us);
      if (us <= deadlineUs) withinDeadline++;
    }
  };
  /** Sends one request; `from` is when the clock started for it (actual or intended send time). */
  const send = async (from: number): Promise<void> => {
    const req = next();
    try {
      const res = await pool.request({ path: req.path, method: req.method, headers: req.headers, ...(req.body === undefined ? {} : { body: req.body }) });
      await res.body.dump();
      recordOne(String(res.statusCode), from, success.has(res.statusCode));
    } catch (error) {
      recordOne((error as { code?: string }).code ?? 'error', from, false);
    }
  };

  const cpuStart = process.cpuUsage();
  if (spec.mode === 'closed') {
    const loop = async () => {
      while (performance.now() < measureTo) await send(performance.now());
    };
    await Promise.all(Array.from({ length: spec.connections }, loop));
  } else {
    const rate = spec.rate ?? 1;
    const interval = 1000 / rate;
    const total = Math.floor(((spec.warmupMs + spec.durationMs) / 1000) * rate);
    const maxOutstanding = spec.maxOutstanding ?? 20_000;
    const outstanding = new Set<Promise<void>>();
    const intended: number[] = [];
    let i = 0;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (i < total && t0 + i * interval <= now) {
          const at = t0 + i * interval;
          i++;
          if (outstanding.size >= maxOutstanding) {
            intended.push(at);
            continue;
          }
          const p: Promise<void> = send(at).finally(() => outstanding.delete(p));
          outstanding.add(p);
        }
        if (i < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + i * interval - performance.now())));
        else resolve();
      };
      tick();
    });
    const drained = await Promise.race([
      Promise.all([...outstanding]).then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), spec.drainMs ?? 10_000)),
    ]);
    // requests never sent (the generator held too many) or never answered are charged the time they waited so far
    for (const at of intended) recordOne('dropped', at, false);
    if (!drained) {
      const stuck = outstanding.size;
      for (let k = 0; k < stuck; k++) recordOne('timeout', measureFrom, false);
    }
  }
  const cpu = process.cpuUsage(cpuStart);
  const wall = performance.now() - t0;
  // answers arriving from here on (or requests aborted by destroy) belong to no figure
  closed = true;
  await pool.destroy();
  const measuredS = spec.durationMs / 1000;
  return {
    mode: spec.mode,
    offeredRate: spec.mode === 'open' ? (spec.rate ?? 0) : all.totalCount / measuredS,
    throughput: all.totalCount / measuredS,
    successRate: successes / measuredS,
    goodput: withinDeadline / measuredS,
    latency: summarise(all),
    successLatency: summarise(ok),
    outcomes,
    measuredMs: spec.durationMs,
    generatorCpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
  };
};

const reply = (message: FromGenerator) => process.send?.(message);

process.on('message', (message: ToGenerator) => {
  if (message.type === 'exit') process.exit(0);
  run(message.spec).then(
    (result) => reply({ type: 'result', result }),
    (error: unknown) => reply({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready' });
