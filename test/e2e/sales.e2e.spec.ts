import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Tokens } from '../../infra/composition/root';
import { startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant } from '../support/stock';

/** A clock that runs with real time plus an offset the test moves, so a sale's window can be crossed at will. */
class MovableClock {
  offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
}

const HOUR = 3_600_000;

describe('flash sales over HTTP (crest start)', function () {
  this.timeout(60_000);
  const clock = new MovableClock();
  let crest: TestCrest;
  let startsAt: string;
  let endsAt: string;

  before(async () => {
    crest = await startCrest({}, undefined, { clock });
  });
  after(() => crest?.dispose());
  beforeEach(() => {
    clock.offsetMs = 0;
    startsAt = new Date(Date.now() + HOUR).toISOString();
    endsAt = new Date(Date.now() + 2 * HOUR).toISOString();
  });

  const list = async (sku: string, stock: number, priceCents = 12_000) => {
    expect((await crest.call('PUT', `/v1/products/${sku}`, { admin: true, body: { name: sku, category: 'sneakers', priceCents } })).status).to.equal(201);
    expect((await crest.call('POST', `/v1/inventory/${sku}/receipts`, { admin: true, body: { quantity: stock, receiptId: `r-${sku}` } })).status).to.equal(200);
  };
  const putSale = (saleId: string, body: Record<string, unknown>) => crest.call('PUT', `/v1/sales/${saleId}`, { admin: true, body });
  const order = (customerId: string, lines: Array<{ sku: string; quantity: number }>, key = randomUUID()) => crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key }, body: { customerId, lines } });
  /** The SKU's inventory view once the read models have reached the log's head. */
  const figures = async (sku: string) => {
    const head = (await crest.running.container.get(Tokens.EventStore).headPosition()) ?? 0;
    return (await crest.call('GET', `/v1/inventory/${sku}`, { headers: { 'x-min-position': String(head) } })).body;
  };
  const sku = () => `SNK-${randomUUID().slice(0, 8)}`;

  it('given a sale is listed, when the same PUT comes again, then it writes nothing; an overlapping window and an unknown SKU are refused', async () => {
    const s = sku();
    await list(s, 100);
    const first = await putSale(`sale-${s}`, { sku: s, priceCents: 4900, startsAt, endsAt, perCustomerLimit: 1 });
    expect(first.status).to.equal(201);
    const again = await putSale(`sale-${s}`, { sku: s, priceCents: 4900, startsAt, endsAt, perCustomerLimit: 1 });
    expect(again.status).to.equal(200);
    expect(again.body.position).to.equal(first.body.position);
    const changed = await putSale(`sale-${s}`, { sku: s, priceCents: 4500, startsAt, endsAt, perCustomerLimit: 1 });
    expect(changed.status).to.equal(200);
    expect(changed.body.position).to.be.greaterThan(first.body.position);
    const overlap = await putSale(`other-${s}`, { sku: s, priceCents: 4900, startsAt: new Date(Date.parse(startsAt) + 60_000).toISOString(), endsAt: new Date(Date.parse(endsAt) + HOUR).toISOString(), perCustomerLimit: 1 });
    expect(overlap.status).to.equal(409);
    expect(overlap.body.code).to.equal('sale_overlaps');
    expect((await crest.call('GET', `/v1/sales/other-${s}`)).status, 'the refused sale was not written').to.equal(404);
    const unknown = await putSale(`nosku-${s}`, { sku: `NOPE-${s}`, priceCents: 1, startsAt, endsAt, perCustomerLimit: 1 });
    expect(unknown.status).to.equal(404);
    expect(unknown.body.code).to.equal('unknown_sku');
    const view = await crest.call('GET', `/v1/sales/sale-${s}`);
    expect(view.body).to.include({ saleId: `sale-${s}`, sku: s, priceCents: 4500, perCustomerLimit: 1, status: 'scheduled' });
  });

  it('given a sale at a sale price with a limit of 1, when customers order before, during and after the window, then it refuses, prices and limits, then sells at list price', async () => {
    const s = sku();
    await list(s, 100, 12_000);
    expect((await putSale(`sale-${s}`, { sku: s, priceCents: 4900, startsAt, endsAt, perCustomerLimit: 1 })).status).to.equal(201);

    // before the window: refused, nothing reserved, and the card shows the coming sale
    const early = await order('ann', [{ sku: s, quantity: 1 }]);
    expect(early.status).to.equal(409);
    expect(early.body).to.include({ code: 'sale_not_started' });
    expect(early.body.skus).to.deep.equal([s]);
    expect(early.body.startsAt).to.equal(startsAt);
    const cardBefore = await crest.call('GET', `/v1/products/${s}`);
    expect(cardBefore.body.sale).to.include({ saleId: `sale-${s}`, status: 'scheduled' });
    expect(cardBefore.body.priceCents, 'the card keeps the list price').to.equal(12_000);

    // during: sale price, the sale named on the line, one unit per customer
    clock.offsetMs = HOUR + 1000;
    const cardDuring = await crest.call('GET', `/v1/products/${s}`);
    expect(cardDuring.body.sale.status, 'the card changed when the sale started, with no event').to.equal('live');
    expect(cardDuring.headers.get('etag')).to.not.equal(cardBefore.headers.get('etag'));
    const placed = await order('ann', [{ sku: s, quantity: 1 }]);
    expect(placed.status).to.equal(201);
    expect(placed.body.totalCents).to.equal(4900);
    const second = await order('ann', [{ sku: s, quantity: 1 }]);
    expect(second.status).to.equal(409);
    expect(second.body).to.include({ code: 'purchase_limit_exceeded', limit: 1 });
    expect((await order('bob', [{ sku: s, quantity: 1 }])).status, 'another customer has a limit of their own').to.equal(201);

    // a cancel frees the unit
    expect((await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`)).status).to.equal(200);
    const afterCancel = await order('ann', [{ sku: s, quantity: 1 }]);
    expect(afterCancel.status).to.equal(201);

    // after the window: list price, no limit; an order placed in the window keeps its sale price
    clock.offsetMs = 2 * HOUR + 1000;
    const late = await order('ann', [{ sku: s, quantity: 3 }]);
    expect(late.status).to.equal(201);
    expect(late.body.totalCents).to.equal(36_000);
    const kept = await crest.call('GET', `/v1/orders/${afterCancel.body.orderId}`, { headers: { 'x-min-position': String(late.body.position) } });
    expect(kept.body.totalCents).to.equal(4900);
    expect(kept.body.lines[0]).to.include({ sku: s, priceCents: 4900, saleId: `sale-${s}` });
    expect((await crest.call('GET', `/v1/sales/sale-${s}`)).body.status).to.equal('ended');
    const stock = await figures(s);
    expect(stock.reserved).to.equal(1 + 1 + 3);
    expectStockInvariant(stock);
  });

  it('given a limit of 2, when one customer sends 50 orders at once with different keys, then exactly 2 units are reserved', async () => {
    const s = sku();
    await list(s, 500);
    await putSale(`sale-${s}`, { sku: s, priceCents: 100, startsAt, endsAt, perCustomerLimit: 2 });
    clock.offsetMs = HOUR + 1000;
    const answers = await Promise.all(Array.from({ length: 50 }, () => order('greedy', [{ sku: s, quantity: 1 }])));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((x) => x === 201)).to.have.length(2);
    expect(statuses.filter((x) => x === 409)).to.have.length(48);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.code === 'purchase_limit_exceeded')).to.equal(true);
    const stock = await figures(s);
    expect(stock.reserved).to.equal(2);
    expectStockInvariant(stock);
  });

  it('given a multi-line order with one line over its limit, when it is placed, then it is refused and holds nothing on any line', async () => {
    const s = sku();
    const plain = sku();
    await list(s, 100);
    await list(plain, 100);
    await putSale(`sale-${s}`, { sku: s, priceCents: 100, startsAt, endsAt, perCustomerLimit: 1 });
    clock.offsetMs = HOUR + 1000;
    const refused = await order('cid', [
      { sku: plain, quantity: 2 },
      { sku: s, quantity: 2 },
    ]);
    expect(refused.status).to.equal(409);
    expect(refused.body).to.include({ code: 'purchase_limit_exceeded', limit: 1 });
    expect(refused.body.skus).to.deep.equal([s]);
    for (const x of [s, plain]) {
      const stock = await figures(x);
      expect(stock.reserved, `${x} holds nothing`).to.equal(0);
      expectStockInvariant(stock);
    }
  });

  it('given a scheduled sale, when it is cancelled, then it governs nothing: orders sell at list price with no limit, and the card shows no sale', async () => {
    const s = sku();
    await list(s, 100, 12_000);
    await putSale(`sale-${s}`, { sku: s, priceCents: 100, startsAt, endsAt, perCustomerLimit: 1 });
    const cancelled = await crest.call('DELETE', `/v1/sales/sale-${s}`, { admin: true });
    expect(cancelled.status).to.equal(200);
    const again = await crest.call('DELETE', `/v1/sales/sale-${s}`, { admin: true });
    expect(again.status).to.equal(200);
    expect(again.body.position, 'cancelling again writes nothing').to.equal(cancelled.body.position);
    expect((await crest.call('DELETE', `/v1/sales/never-${s}`, { admin: true })).status).to.equal(404);
    expect((await crest.call('GET', `/v1/sales/sale-${s}`)).body.status).to.equal('cancelled');
    expect((await crest.call('GET', `/v1/products/${s}`)).body.sale).to.equal(null);
    clock.offsetMs = HOUR + 1000;
    const placed = await order('eve', [{ sku: s, quantity: 2 }]);
    expect(placed.status).to.equal(201);
    expect(placed.body.totalCents).to.equal(24_000);
  });

  it('given sales in several states, when they are listed by status, then each page holds only that status, ordered by startsAt', async () => {
    const s = sku();
    await list(s, 10);
    const at = (h: number) => new Date(Date.now() + h * HOUR).toISOString();
    await putSale(`a-${s}`, { sku: s, priceCents: 1, startsAt: at(1), endsAt: at(2), perCustomerLimit: 1 });
    await putSale(`b-${s}`, { sku: s, priceCents: 1, startsAt: at(3), endsAt: at(4), perCustomerLimit: 1 });
    await putSale(`c-${s}`, { sku: s, priceCents: 1, startsAt: at(5), endsAt: at(6), perCustomerLimit: 1 });
    clock.offsetMs = 3 * HOUR + 1000;
    const statusOf = async (status: string) => ((await crest.call('GET', `/v1/sales?status=${status}&limit=100`)).body.items as Array<{ saleId: string }>).map((i) => i.saleId).filter((id) => id.endsWith(s));
    expect(await statusOf('ended')).to.deep.equal([`a-${s}`]);
    expect(await statusOf('live')).to.deep.equal([`b-${s}`]);
    expect(await statusOf('scheduled')).to.deep.equal([`c-${s}`]);
    const first = await crest.call('GET', '/v1/sales?limit=1');
    expect(first.body.items).to.have.length(1);
    const next = await crest.call('GET', `/v1/sales?limit=1&cursor=${first.body.nextCursor}`);
    expect(next.body.items[0].saleId).to.not.equal(first.body.items[0].saleId);
    expect((await crest.call('GET', '/v1/sales?status=open')).status).to.equal(400);
  });

  it('given a sale about to start, when the card is read, then caches must revalidate it; further away they may keep it a second', async () => {
    const s = sku();
    await list(s, 10);
    await putSale(`sale-${s}`, { sku: s, priceCents: 1, startsAt, endsAt, perCustomerLimit: 1 });
    expect((await crest.call('GET', `/v1/products/${s}`)).headers.get('cache-control')).to.match(/max-age=1/);
    clock.offsetMs = HOUR - 3000;
    expect((await crest.call('GET', `/v1/products/${s}`)).headers.get('cache-control')).to.equal('no-cache');
    clock.offsetMs = 2 * HOUR - 3000;
    expect((await crest.call('GET', `/v1/products/${s}`)).headers.get('cache-control'), 'and before it ends').to.equal('no-cache');
  });

  it('given a customer holds their limit, when Crest restarts mid-sale, then the limit still holds', async () => {
    const s = sku();
    await list(s, 100);
    await putSale(`sale-${s}`, { sku: s, priceCents: 100, startsAt, endsAt, perCustomerLimit: 1 });
    clock.offsetMs = HOUR + 1000;
    expect((await order('dee', [{ sku: s, quantity: 1 }])).status).to.equal(201);
    const dir = crest.dataDir;
    await crest.stop();
    crest = await startCrest({}, dir, { clock });
    const again = await order('dee', [{ sku: s, quantity: 1 }]);
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('purchase_limit_exceeded');
    expect((await crest.call('GET', `/v1/sales/sale-${s}`)).body.status, 'the sale survived the restart').to.equal('live');
    const stock = await figures(s);
    expect(stock.reserved).to.equal(1);
    expectStockInvariant(stock);
  });
});
