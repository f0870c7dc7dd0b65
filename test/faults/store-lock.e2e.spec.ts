import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { signWebhook } from '../../commands/payments/webhook-signature';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';
import { waitFor } from '../support/wait-for';

const ORDERS = 1500;
const LOCK_MS = 8000;

/**
 * Another process, started ahead so that taking the lock costs no start-up time: on `take()` it begins an IMMEDIATE
 * transaction on the store's file (the write lock) and holds it for `ms`; `released` settles when it has let go.
 */
const lockHolder = async (file: string, ms: number): Promise<{ take(): Promise<void>; released: Promise<number> }> => {
  const script = `const db = require('better-sqlite3')(${JSON.stringify(file)}); process.stdout.write('ready\\n'); process.stdin.once('data', () => { db.exec('BEGIN IMMEDIATE'); process.stdout.write('locked\\n'); setTimeout(() => { db.exec('COMMIT'); db.close(); process.exit(0); }, ${ms}); });`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  const said = (word: string) =>
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes(word) && resolve());
      child.once('exit', (code) => reject(new Error(`the lock holder exited with ${code} before it said ${word}`)));
    });
  await said('ready');
  const released = new Promise<number>((resolve) => child.once('exit', () => resolve(Date.now())));
  return {
    take: async () => {
      const locked = said('locked');
      child.stdin!.write('go\n');
      await locked;
    },
    released,
  };
};

/** What a payment provider does with a callback: it sends it again, with backoff, until it gets a 2xx. */
const deliverUntilTaken = async (crest: TestCrest, body: object): Promise<{ attempts: number; statuses: number[] }> => {
  const raw = JSON.stringify(body);
  const statuses: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const response = await crest
      .call('POST', '/v1/payments/webhook', { rawBody: raw, headers: { 'content-type': 'application/json', 'crest-signature': signWebhook(raw, crest.running.webhookSecret.secret, Math.floor(Date.now() / 1000)) } })
      .catch(() => ({ status: 0 }));
    statuses.push(response.status);
    if (response.status >= 200 && response.status < 300) return { attempts: attempt, statuses };
    if (response.status >= 400 && response.status < 500) throw new Error(`callback refused: ${response.status}`);
    await new Promise<void>((resolve) => setTimeout(resolve, Math.min(2000, 50 * 2 ** attempt)));
  }
};

const mapLimit = async <T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> => {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
};

describe('fault: another process locks the event store mid-sale', function () {
  this.timeout(180_000);
  let crest: TestCrest;
  before(async () => (crest = await startCrest({ CREST_FOLLOWER_RETRY_MAX_MS: '500', CREST_FOLLOWER_STALL_MS: '0' })));
  after(() => crest?.dispose());

  it('confirms every captured order and sells its units once the lock is released, with no restart', async () => {
    // given 1,500 orders awaiting a payment the provider has not answered yet
    const sku = 'LOCK-SNEAKER';
    await seedProduct(crest, sku, ORDERS, 2000);
    const orders = await mapLimit(
      Array.from({ length: ORDERS }, (_, i) => i),
      32,
      async (i) => {
        const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': `lock-order-${i}` }, body: { customerId: `lock-cust-${i}`, lines: [{ sku, quantity: 1 }] } });
        expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
        const paid = await crest.call('POST', `/v1/orders/${placed.body.orderId}/payment`, { body: { paymentToken: 'tok_timeout' } });
        expect(paid.status).to.equal(202);
        return { orderId: placed.body.orderId as string, paymentId: paid.body.paymentId as string, totalCents: placed.body.totalCents as number };
      },
    );

    // when the provider captures them all, and another process holds the store's write lock while the saga works
    const retriesBefore = await sagaRetries(crest);
    const captures = orders.map((o) => ({ id: `evt_lock_${o.orderId}`, type: 'payment.captured', paymentId: o.paymentId, orderId: o.orderId, amountCents: o.totalCents }));
    const half = Math.floor(captures.length / 2);
    const locker = await lockHolder(join(crest.dataDir, 'crest.sqlite'), LOCK_MS);
    // the lock is taken the moment the first half is acknowledged, while the saga is still confirming it
    await mapLimit(captures.slice(0, half), 64, (c) => deliverUntilTaken(crest, c));
    await locker.take();
    const lockedAt = Date.now();
    const released = locker.released;
    // a shopper keeps browsing and a probe keeps asking for readiness while the lock is held
    const browsing = probeUntil(released, () => crest.call('GET', `/v1/products/${sku}`));
    const readiness = probeUntil(released, () => crest.call('GET', '/health/ready'));
    const delivered = await mapLimit(captures.slice(half), 32, (c) => deliverUntilTaken(crest, c));
    const releasedAt = await released;

    // then, with no restart: every captured order is confirmed and its unit sold, and the invariant holds
    const store = crest.running.container.get(Tokens.EventStore);
    await waitFor(async () => (await stockFromLog(store, sku)).sold === ORDERS, 120_000, `all ${ORDERS} units to be sold`);
    const allSoldAt = Date.now();
    const [browsed, ready] = await Promise.all([browsing, readiness]);
    const callbacks = tally(delivered.flatMap((d) => d.statuses));
    console.log(
      `      [fault:store-lock] lock held ${((releasedAt - lockedAt) / 1000).toFixed(1)} s; provider saw ${callbacks}; ` +
        `browse saw ${tally(browsed.statuses)}, latency p50 ${percentile(browsed.latencies, 0.5)} ms, max ${percentile(browsed.latencies, 1)} ms; ` +
        `readiness saw ${tally(ready.statuses)}; all ${ORDERS} sold ${((allSoldAt - releasedAt) / 1000).toFixed(1)} s after the release`,
    );
    expect(browsed.statuses.every((s) => s === 200), 'browse keeps answering from the read models').to.equal(true);
    const stock = await stockFromLog(store, sku);
    expectStockInvariant(stock);
    expect(stock).to.include({ sold: ORDERS, reserved: 0, available: 0 });
    for (const o of orders.filter((_, i) => i % 50 === 0)) {
      expect((await crest.call('GET', `/v1/orders/${o.orderId}`)).body.status).to.equal('confirmed');
    }
    expect(await sagaRetries(crest), 'the saga met the lock, and retried instead of dying').to.be.greaterThan(retriesBefore);
    expect(delivered.some((d) => d.attempts > 1) || (await sagaRetries(crest)) > retriesBefore).to.equal(true);
    await waitFor(async () => (await crest.call('GET', '/health/ready')).status === 200, 30_000, 'readiness to recover');
  });
});

/** Calls `call` one at a time until `until` settles; what came back, and how long each call took. */
const probeUntil = async (until: Promise<unknown>, call: () => Promise<{ status: number }>): Promise<{ statuses: number[]; latencies: number[] }> => {
  let done = false;
  void until.then(() => (done = true));
  const statuses: number[] = [];
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    statuses.push((await call().catch(() => ({ status: 0 }))).status);
    latencies.push(Math.round(performance.now() - started));
  }
  return { statuses, latencies };
};

const tally = (statuses: readonly number[]): string => {
  const counts = new Map<number, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
};

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] ?? 0;
};

const sagaRetries = async (crest: TestCrest): Promise<number> => {
  const text = (await crest.call('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith('crest_follower_retries_total{follower="checkout-saga"}'));
  return line ? Number(line.split(' ').pop()) : 0;
};
