/**
 * sale-opening: the minute Crest exists for. A flash sale of 500 units with a limit of 1 per customer opens, and a
 * crowd of 5,000 orders from 2,000 customers arrives in the same second, at `startsAt`. After it: exactly 500
 * reserved, nobody holds more than 1, the stock invariant holds, and the read model equals the log. Against the
 * hot-SKU HTTP goodput (closed loop on 5 SKUs without a sale) measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokens } from '../../infra/composition/root';
import { fmt, type Bench, type Scenario } from '../harness';
import { describeRun, LoadGenerator } from '../load/generator';
import { call, describeConfig, startBenchCrest } from '../support/crest';
import { hotSkuClosedRun, seedHotSkus, SKUS } from './hot-sku-http';

const UNITS = 500;
const CROWD = 5000;
const CUSTOMERS = 2000;
const LIMIT = 1;
const DEADLINE_MS = 1000;

interface StockView {
  received: number;
  adjusted: number;
  available: number;
  reserved: number;
  sold: number;
}

export const saleOpening: Scenario = {
  name: 'sale-opening',
  description: `a flash sale opens: ${CROWD.toLocaleString('en')} orders from ${CUSTOMERS.toLocaleString('en')} customers in the same second for ${UNITS} units, limit ${LIMIT}; vs hot-SKU HTTP goodput in the same run`,
  defaultRounds: 3,
  async run(bench: Bench) {
    const dir = mkdtempSync(join(tmpdir(), 'crest-bench-sale-'));
    const { crest, config } = await startBenchCrest(dir);
    const generator = await LoadGenerator.start();
    const store = crest.container.get(Tokens.EventStore);
    const checks: string[] = [];
    let failures = 0;
    try {
      await seedHotSkus(crest.url);
      bench.condition('server', `Crest startAllInOne in the harness process (${describeConfig(config)}), SQLite in a fresh temp dir`);
      bench.condition('crowd', `open model: ${CROWD} POST /v1/orders at ${CROWD}/s for 1 s from a forked generator (undici, up to 512 connections), starting at the sale's startsAt; customers cust-0..cust-${CUSTOMERS - 1} round-robin, a fresh Idempotency-Key each`);
      bench.condition('sale', `${UNITS} units, perCustomerLimit ${LIMIT}, a new SKU and sale each round`);
      bench.condition('baseline', `hot-SKU HTTP: closed loop, 64 connections, 3 s, 1-unit orders on ${SKUS.length} SKUs without a sale, before each crowd`);
      bench.condition('answers', `decided answers (201 reserved, 409 sold out or past the limit) per second, from the first send until the last answer; the 500 units cap the 201s`);
      bench.metric({ id: 'sale', label: 'sale opening: decided answers per second', unit: 'req/s', role: 'crest', chart: 'throughput' });
      bench.metric({ id: 'sold1s', label: 'units reserved within 1 s of their send', unit: 'count', role: 'crest', chart: 'none' });
      bench.metric({ id: 'hot', label: 'hot-SKU HTTP goodput, closed, same run', unit: 'req/s', role: 'baseline', chart: 'throughput' });
      bench.metric({ id: 'saleP99', label: 'sale opening p99 (every answer)', unit: 'ms', role: 'crest', chart: 'latency' });
      bench.metric({ id: 'hotP99', label: 'hot-SKU HTTP p99, closed', unit: 'ms', role: 'baseline', chart: 'latency' });
      bench.metric({ id: 'answeredS', label: 'time until every crowd order was answered', unit: 's', role: 'crest', chart: 'none' });

      await bench.runRounds(async (index, warm) => {
        const hot = await hotSkuClosedRun(generator, crest.url, 3000);
        bench.log(describeRun('hot-SKU closed', hot));
        const sku = `OPENING-${index}-${randomBytes(3).toString('hex')}`;
        const listed = await call(crest.url, 'PUT', `/v1/products/${sku}`, { admin: true, body: { name: 'Midnight sneaker', category: 'flash', priceCents: 12_000 } });
        const received = await call(crest.url, 'POST', `/v1/inventory/${sku}/receipts`, { admin: true, body: { quantity: UNITS, receiptId: `units-${sku}` } });
        const startsAt = new Date(Date.now() + 1500);
        const sale = await call(crest.url, 'PUT', `/v1/sales/sale-${sku}`, {
          admin: true,
          body: { sku, priceCents: 4900, startsAt: startsAt.toISOString(), endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(), perCustomerLimit: LIMIT },
        });
        if (listed.status !== 201 || received.status !== 200 || sale.status !== 201) throw new Error(`setting up the sale: ${listed.status} ${received.status} ${sale.status}`);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, startsAt.getTime() - Date.now())));
        const started = performance.now();
        const crowd = await generator.run({
          origin: crest.url,
          mode: 'open',
          rate: CROWD,
          connections: 512,
          warmupMs: 0,
          durationMs: 1000,
          deadlineMs: DEADLINE_MS,
          drainMs: 60_000,
          maxOutstanding: CROWD,
          request: { kind: 'order', skus: [sku], customers: CUSTOMERS, keyPrefix: `crowd-${randomBytes(6).toString('hex')}` },
          successStatuses: [201],
        });
        const answeredS = (performance.now() - started) / 1000;
        bench.log(`${describeRun('sale opening', crowd)}; all answered after ${fmt(answeredS, 's')}`);
        const decided = (crowd.outcomes['201'] ?? 0) + (crowd.outcomes['409'] ?? 0);
        bench.record('sale', decided / answeredS);
        bench.record('sold1s', crowd.goodput * (crowd.measuredMs / 1000));
        bench.record('hot', hot.goodput);
        bench.record('saleP99', crowd.latency.p99);
        bench.record('hotP99', hot.latency.p99);
        bench.record('answeredS', answeredS);

        // exactly UNITS reserved, nobody past the limit, the invariant, and the read model equal to the log
        const events = await store.readStream(`inventory-${sku}`);
        const perCustomer = new Map<string, number>();
        let reserved = 0;
        for (const e of events) {
          if (e.type !== 'StockReserved') continue;
          const data = e.data as { customerId?: string; quantity: number };
          reserved += data.quantity;
          perCustomer.set(data.customerId ?? '', (perCustomer.get(data.customerId ?? '') ?? 0) + data.quantity);
        }
        const most = Math.max(0, ...perCustomer.values());
        const head = (await store.headPosition()) ?? 0;
        const view = (await call<StockView>(crest.url, 'GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } })).body;
        const invariant = view.available + view.reserved + view.sold === view.received + view.adjusted;
        const ok = reserved === UNITS && most <= LIMIT && invariant && view.reserved === reserved && (crowd.outcomes['201'] ?? 0) === UNITS;
        if (!ok) failures++;
        checks.push(
          `${warm ? 'warm-up' : 'round'} ${index + 1}: ${reserved} reserved by ${perCustomer.size} customers (most ${most}), 201 answers ${crowd.outcomes['201'] ?? 0}, read model reserved ${view.reserved}, invariant ${invariant ? 'ok' : 'BROKEN'}; outcomes ${JSON.stringify(crowd.outcomes)}`,
        );
        bench.log(checks[checks.length - 1]!);
      });
      bench.metric({ id: 'wrong', label: 'rounds with other than exactly 500 reserved, someone past the limit, or the read model off the log', unit: 'count', role: 'crest', chart: 'none' });
      bench.once('wrong', failures);
      bench.target('exactly 500 reserved, nobody past the limit, read model = log, every round', 'wrong', '<=', 0, 'count');
      bench.ratio('sale opening / hot-SKU HTTP', 'sale', 'hot');
      bench.detail('checks', checks);
      bench.note(checks.join('; '));
    } finally {
      await generator.close();
      await crest.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
