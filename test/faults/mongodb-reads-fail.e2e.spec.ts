import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { streamName } from '../../domain/kernel/streams';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type HttpResponse, type TestCrest } from '../support/crest-harness';
import { metricValue } from '../support/fault-sale';
import { requireServersFor, serverUrls } from '../support/servers';
import { waitFor } from '../support/wait-for';

const BREAKER = { breaker: 'mongodb-read-models' };

/**
 * The read store breaker against a real FerretDB: Crest's own MongoDB client is closed under it (FerretDB itself stays
 * up for the rest of the suite), so every read-model query fails as the driver reports an unreachable server.
 */
describe('fault: the MongoDB read store fails (crest start, CREST_READ_MODELS=mongodb): browse answers stale, checkout goes on', function () {
  this.timeout(60_000);
  const id = randomUUID().slice(0, 8);
  const database = `crest_fault_reads_${id}`;
  let crest: TestCrest | undefined;

  before(async function () {
    await requireServersFor(this, 'mongodb');
    crest = await startCrest({
      CREST_READ_MODELS: 'mongodb',
      MONGODB_URL: serverUrls.mongodb,
      MONGODB_DATABASE: database,
      // short TTLs, so that every cached read is past its TTL (and asks the store again) soon after the failure
      CREST_CACHE_TTL_MS: '100',
      CREST_BROWSE_CACHE_TTL_MS: '100',
      CREST_BREAKER_RESET_MS: '60000',
    });
  });

  after(async () => {
    await crest?.dispose();
    const mongo = new MongoClient(serverUrls.mongodb, { serverSelectionTimeoutMS: 5000 });
    await mongo
      .connect()
      .then(() => mongo.db(database).dropDatabase())
      .catch(() => undefined);
    await mongo.close().catch(() => undefined);
  });

  it('serves the last browse page, cards, order and inventory marked stale, 503 for what it never read, and keeps placing orders', async () => {
    // given a catalogue, an order, and the storefront's reads of them answered by the read models
    const c = crest!;
    const skus = ['A', 'B', 'C'].map((s) => `READS-${s}-${id}`);
    for (const sku of skus) await seedProduct(c, sku, 50, 1200);
    const placed = await c.call('POST', '/v1/orders', { headers: { 'idempotency-key': `reads-${id}-0` }, body: { customerId: `reads-${id}`, lines: [{ sku: skus[0], quantity: 2 }] } });
    expect(placed.status).to.equal(201);
    const after = { headers: { 'x-min-position': String(placed.body.position) } };
    const reads = {
      browse: `/v1/products?category=flash&q=${id}`,
      card: `/v1/products/${skus[0]}`,
      order: `/v1/orders/${placed.body.orderId}`,
      inventory: `/v1/inventory/${skus[0]}`,
      customerOrders: `/v1/customers/reads-${id}/orders`,
    };
    const before: Record<string, unknown> = {};
    for (const [name, path] of Object.entries(reads)) {
      const answer = await c.call('GET', path, after);
      expect(answer.status, name).to.equal(200);
      expect(answer.headers.get('x-crest-stale'), name).to.equal(null);
      before[name] = answer.body;
    }
    expect((before.inventory as { reserved: number }).reserved).to.equal(2);

    // when Crest's MongoDB client fails under it
    const db = (c.running.container.get(Tokens.LiveReadModels).models as unknown as { db: Db }).db;
    await db.client.close();

    // then every read it answered before is answered again, 200 with the same body, marked stale
    const answers: Array<HttpResponse> = [];
    const staleAnswer = async (name: string, path: string): Promise<HttpResponse> => {
      let last: HttpResponse | undefined;
      await waitFor(
        async () => {
          last = await c.call('GET', path);
          answers.push(last);
          return last.headers.get('x-crest-stale') === 'true';
        },
        10_000,
        `${name} to be answered stale`,
      );
      return last!;
    };
    for (const [name, path] of Object.entries(reads)) {
      const answer = await staleAnswer(name, path);
      expect(answer.status, name).to.equal(200);
      expect(answer.headers.get('warning'), name).to.equal('110 - "Response is Stale"');
      expect(answer.body, name).to.deep.equal(before[name]);
    }

    // and a card it never read is 503 unavailable (problem+json, Retry-After), at once
    const started = Date.now();
    const unread = await c.call('GET', `/v1/products/${skus[2]}`);
    answers.push(unread);
    expect(unread.status).to.equal(503);
    expect(unread.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(unread.headers.get('retry-after')).to.equal('1');
    expect(unread.body).to.include({ code: 'unavailable', status: 503 });
    expect(Date.now() - started).to.be.below(1000);

    // and the breaker is open, in metrics and in readiness
    await waitFor(async () => metricValue((await c.call('GET', '/metrics')).body as string, 'crest_circuit_breaker_open', BREAKER) === 1, 10_000, 'the read store breaker to open');
    const ready = await c.call('GET', '/health/ready');
    expect(ready.body.breakers).to.include({ 'mongodb-read-models': 'open' });
    expect(metricValue((await c.call('GET', '/metrics')).body as string, 'crest_cache_lookups_total', { namespace: 'browse', outcome: 'stale_on_error' })).to.be.greaterThan(0);

    // and checkout goes on: orders are placed, paid and confirmed without the read store
    const paidOrders: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const order = await c.call('POST', '/v1/orders', { headers: { 'idempotency-key': `reads-${id}-${i}` }, body: { customerId: `reads-${id}`, lines: [{ sku: skus[i % 2], quantity: 1 }] } });
      expect(order.status, `order ${i}`).to.equal(201);
      const paid = await c.call('POST', `/v1/orders/${order.body.orderId}/payment`, { body: { paymentToken: 'tok_ok' } });
      expect(paid.status, `payment ${i}`).to.equal(202);
      paidOrders.push(order.body.orderId);
    }
    const store = c.running.container.get(Tokens.EventStore);
    for (const orderId of paidOrders) {
      await waitFor(async () => (await store.readStream(streamName('order', orderId))).some((e) => e.type === 'OrderConfirmed'), 10_000, `${orderId} to be confirmed`);
    }

    // and no read got a 5xx other than 503
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s >= 500 && s !== 503), 'no 5xx but 503').to.deep.equal([]);
    console.log(`      [fault:mongodb-reads-fail] reads while failing: ${Object.entries(tally(statuses)).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  });
});

const tally = (statuses: readonly number[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
};
