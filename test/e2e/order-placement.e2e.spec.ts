import { expect } from 'chai';
import type { EventStore } from '../../domain/kernel/event-store';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';

/** Placing orders without reading what does not exist yet, and answering every kind of replay (issue 12, item 4). */
describe('order placement reads nothing for a new order', function () {
  this.timeout(60_000);
  let crest: TestCrest;
  let store: EventStore;
  const orderReads: string[] = [];
  before(async () => {
    crest = await startCrest();
    store = crest.running.container.get(Tokens.EventStore);
    const readStream = store.readStream.bind(store);
    store.readStream = (streamId, options) => {
      if (streamId.startsWith('order-')) orderReads.push(streamId);
      return readStream(streamId, options);
    };
  });
  after(() => crest.dispose());

  const place = (key: string, lines: Array<{ sku: string; quantity: number }>, customerId = 'placer') =>
    crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key }, body: { customerId, lines } });

  it('places new orders without reading their streams', async () => {
    await seedProduct(crest, 'NOREAD-1', 100);
    orderReads.length = 0;
    for (let i = 0; i < 20; i++) expect((await place(`noread-${i}`, [{ sku: 'NOREAD-1', quantity: 1 }])).status).to.equal(201);
    expect(orderReads).to.deep.equal([]);
  });

  it('answers a replay with the order as it is now, holding nothing twice', async () => {
    await seedProduct(crest, 'NOREAD-2', 10);
    const first = await place('noread-replay', [{ sku: 'NOREAD-2', quantity: 2 }]);
    const again = await place('noread-replay', [{ sku: 'NOREAD-2', quantity: 2 }]);
    expect([first.status, again.status, again.body.orderId]).to.deep.equal([201, 200, first.body.orderId]);
    const stock = await stockFromLog(store, 'NOREAD-2');
    expect(stock).to.include({ reserved: 2, available: 8 });
    expectStockInvariant(stock);
  });

  it('answers a replay of a cancelled order as cancelled, and gives back what the replay reserved', async () => {
    await seedProduct(crest, 'NOREAD-3', 10);
    const placed = await place('noread-cancelled', [{ sku: 'NOREAD-3', quantity: 3 }]);
    expect((await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`)).status).to.equal(200);
    const again = await place('noread-cancelled', [{ sku: 'NOREAD-3', quantity: 3 }]);
    expect([again.status, again.body.status]).to.deep.equal([200, 'cancelled']);
    const stock = await stockFromLog(store, 'NOREAD-3');
    expect(stock).to.include({ reserved: 0, available: 10 });
    expectStockInvariant(stock);
  });

  it('answers a replay of a placed order as placed even once its SKU is sold out', async () => {
    await seedProduct(crest, 'NOREAD-4', 1);
    const placed = await place('noread-soldout', [{ sku: 'NOREAD-4', quantity: 1 }]);
    expect((await place('noread-other', [{ sku: 'NOREAD-4', quantity: 1 }], 'someone-else')).status).to.equal(409);
    const again = await place('noread-soldout', [{ sku: 'NOREAD-4', quantity: 1 }]);
    expect([again.status, again.body.orderId, again.body.status]).to.deep.equal([200, placed.body.orderId, 'awaiting_payment']);
    expectStockInvariant(await stockFromLog(store, 'NOREAD-4'));
  });

  it('refuses the same key with other lines with 422, and keeps nothing it reserved for them', async () => {
    await seedProduct(crest, 'NOREAD-5', 10);
    await seedProduct(crest, 'NOREAD-6', 10);
    await place('noread-reused', [{ sku: 'NOREAD-5', quantity: 1 }]);
    const reused = await place('noread-reused', [{ sku: 'NOREAD-6', quantity: 1 }]);
    expect([reused.status, reused.body.code]).to.deep.equal([422, 'idempotency_key_reused']);
    expect(await stockFromLog(store, 'NOREAD-5')).to.include({ reserved: 1 });
    expect(await stockFromLog(store, 'NOREAD-6')).to.include({ reserved: 0, available: 10 });
  });

  it('commits an order of several lines with its reservations (one commit), reading nothing', async () => {
    // given three SKUs whose writers are idle
    const skus = ['MULTI-1', 'MULTI-2', 'MULTI-3'];
    for (const sku of skus) await seedProduct(crest, sku, 100);
    orderReads.length = 0;
    // when orders of two and three lines are placed one after another
    const placed = [];
    for (let i = 0; i < 6; i++) placed.push(await place(`multi-order-${i}`, skus.slice(0, 2 + (i % 2)).map((sku) => ({ sku, quantity: 1 }))));
    // then each is placed without a read, and its OrderPlaced was committed together with every one of its reservations
    expect(placed.map((r) => r.status)).to.deep.equal(placed.map(() => 201));
    expect(orderReads).to.deep.equal([]);
    const log = await store.readAll({ filter: { eventTypes: ['StockReserved', 'OrderPlaced'] } });
    for (const r of placed) {
      const events = log.filter((e) => (e.data as { orderId?: string }).orderId === r.body.orderId);
      expect(events.map((e) => e.type)).to.have.members([...Array.from({ length: events.length - 1 }, () => 'StockReserved'), 'OrderPlaced']);
      expect(new Set(events.map((e) => e.created)).size, `${r.body.orderId}: one commit`).to.equal(1);
    }
    for (const sku of skus) expectStockInvariant(await stockFromLog(store, sku));
  });

  it('never commits an order of several lines before all its reservations, when the writers are busy', async () => {
    // given three SKUs
    const skus = ['BUSY-1', 'BUSY-2', 'BUSY-3'];
    for (const sku of skus) await seedProduct(crest, sku, 1000);
    // when many orders of one to three lines arrive at once
    const placed = await Promise.all(Array.from({ length: 60 }, (_, i) => place(`busy-order-${i}`, skus.slice(i % 3, 1 + (i % 3) + (i % 2) * 2).map((sku) => ({ sku, quantity: 1 })))));
    expect(placed.map((r) => r.status)).to.deep.equal(placed.map(() => 201));
    // then every order's reservations are in the log, none after its OrderPlaced
    const log = await store.readAll({ filter: { eventTypes: ['StockReserved', 'OrderPlaced'] } });
    for (const r of placed) {
      const events = log.filter((e) => (e.data as { orderId?: string }).orderId === r.body.orderId);
      const order = events.find((e) => e.type === 'OrderPlaced')!;
      const reservations = events.filter((e) => e.type === 'StockReserved');
      expect(reservations.length).to.equal((order.data as { lines: unknown[] }).lines.length);
      expect(Math.max(...reservations.map((e) => e.position))).to.be.lessThan(order.position);
    }
    for (const sku of skus) expectStockInvariant(await stockFromLog(store, sku));
  });

  it('refuses an order of several lines when one is sold out, and holds nothing for it', async () => {
    await seedProduct(crest, 'MULTI-PLENTY', 10);
    await seedProduct(crest, 'MULTI-GONE', 1);
    expect((await place('multi-takes-last', [{ sku: 'MULTI-GONE', quantity: 1 }], 'first-comer')).status).to.equal(201);
    const refused = await place('multi-too-late', [{ sku: 'MULTI-PLENTY', quantity: 2 }, { sku: 'MULTI-GONE', quantity: 1 }]);
    expect([refused.status, refused.body.code]).to.deep.equal([409, 'out_of_stock']);
    expect(await stockFromLog(store, 'MULTI-PLENTY')).to.include({ reserved: 0, available: 10 });
    expectStockInvariant(await stockFromLog(store, 'MULTI-GONE'));
  });
});
