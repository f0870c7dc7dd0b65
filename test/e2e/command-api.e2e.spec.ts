import { expect } from 'chai';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';

const order = (crest: TestCrest, key: string, customerId: string, lines: Array<{ sku: string; quantity: number }>) =>
  crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key }, body: { customerId, lines } });

describe('command API', () => {
  let crest: TestCrest;
  before(async () => (crest = await startCrest()));
  after(() => crest.dispose());
  const store = () => crest.running.container.get(Tokens.EventStore);

  describe('catalogue', () => {
    it('answers 201 for a new listing, 200 for a change and writes nothing for an unchanged PUT', async () => {
      const body = { name: 'Lamp', category: 'home', priceCents: 4500 };
      const created = await crest.call('PUT', '/v1/products/LAMP-1', { admin: true, body });
      expect(created.status).to.equal(201);
      expect(created.body).to.deep.equal({ sku: 'LAMP-1', position: created.body.position });
      const changed = await crest.call('PUT', '/v1/products/LAMP-1', { admin: true, body: { ...body, priceCents: 3900 } });
      expect(changed.status).to.equal(200);
      expect(changed.body.position).to.be.greaterThan(created.body.position);
      const head = await store().headPosition();
      const same = await crest.call('PUT', '/v1/products/LAMP-1', { admin: true, body: { ...body, priceCents: 3900 } });
      expect(same.status).to.equal(200);
      expect(same.body.position).to.equal(changed.body.position);
      expect(await store().headPosition()).to.equal(head);
    });

    it('delists, refuses stock for a delisted SKU, and answers 201 when it is listed again', async () => {
      await seedProduct(crest, 'GONE-1', 0);
      expect((await crest.call('DELETE', '/v1/products/GONE-1', { admin: true })).status).to.equal(200);
      const receipt = await crest.call('POST', '/v1/inventory/GONE-1/receipts', { admin: true, body: { quantity: 5, receiptId: 'rcpt-gone' } });
      expect(receipt.status).to.equal(404);
      expect(receipt.body.code).to.equal('unknown_sku');
      const relisted = await crest.call('PUT', '/v1/products/GONE-1', { admin: true, body: { name: 'Back', category: 'home', priceCents: 100 } });
      expect(relisted.status).to.equal(201);
    });

    it('answers 404 when delisting a SKU that was never listed', async () => {
      const response = await crest.call('DELETE', '/v1/products/NEVER-1', { admin: true });
      expect(response.status).to.equal(404);
      expect(response.body.code).to.equal('unknown_sku');
    });

    it('requires the admin token: 401 without it, 403 when wrong, and writes nothing', async () => {
      const head = await store().headPosition();
      const body = { name: 'X', category: 'home', priceCents: 1 };
      const missing = await crest.call('PUT', '/v1/products/AUTH-1', { body });
      const wrong = await crest.call('PUT', '/v1/products/AUTH-1', { body, headers: { authorization: 'Bearer not-the-token' } });
      expect([missing.status, missing.body.code]).to.deep.equal([401, 'unauthorized']);
      expect([wrong.status, wrong.body.code]).to.deep.equal([403, 'forbidden']);
      expect(await store().headPosition()).to.equal(head);
    });
  });

  describe('stock', () => {
    it('receives stock once per receiptId', async () => {
      await seedProduct(crest, 'RCV-1', 0);
      const first = await crest.call('POST', '/v1/inventory/RCV-1/receipts', { admin: true, body: { quantity: 40, receiptId: 'rcpt-1' } });
      expect(first.status).to.equal(200);
      expect(first.body).to.include({ sku: 'RCV-1', received: 40, available: 40 });
      const again = await crest.call('POST', '/v1/inventory/RCV-1/receipts', { admin: true, body: { quantity: 40, receiptId: 'rcpt-1' } });
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.equal(first.body);
    });

    it('adjusts stock once per adjustmentId and never below zero', async () => {
      await seedProduct(crest, 'ADJ-1', 10);
      const shrink = await crest.call('POST', '/v1/inventory/ADJ-1/adjustments', { admin: true, body: { delta: -3, reason: 'damaged', adjustmentId: 'adj-1' } });
      expect(shrink.status).to.equal(200);
      expect(shrink.body).to.include({ adjusted: -3, available: 7 });
      const repeat = await crest.call('POST', '/v1/inventory/ADJ-1/adjustments', { admin: true, body: { delta: -3, reason: 'damaged', adjustmentId: 'adj-1' } });
      expect(repeat.body).to.include({ adjusted: -3, available: 7 });
      const tooMuch = await crest.call('POST', '/v1/inventory/ADJ-1/adjustments', { admin: true, body: { delta: -8, reason: 'audit', adjustmentId: 'adj-2' } });
      expect([tooMuch.status, tooMuch.body.code]).to.deep.equal([409, 'insufficient_stock']);
      expectStockInvariant(await stockFromLog(store(), 'ADJ-1'));
    });
  });

  describe('orders', () => {
    it('places an order, replays it with 200, and refuses the same key for other lines with 422', async () => {
      await seedProduct(crest, 'ORD-1', 10, 250);
      const placed = await order(crest, 'order-key-1', 'alice', [{ sku: 'ORD-1', quantity: 2 }]);
      expect(placed.status).to.equal(201);
      expect(placed.body).to.include({ status: 'awaiting_payment', totalCents: 500 });
      expect(placed.body.orderId).to.match(/^ord_/);
      expect(Date.parse(placed.body.expiresAt)).to.be.greaterThan(Date.now());
      const replay = await order(crest, 'order-key-1', 'alice', [{ sku: 'ORD-1', quantity: 2 }]);
      expect(replay.status).to.equal(200);
      expect(replay.body.orderId).to.equal(placed.body.orderId);
      const reused = await order(crest, 'order-key-1', 'alice', [{ sku: 'ORD-1', quantity: 3 }]);
      expect([reused.status, reused.body.code]).to.deep.equal([422, 'idempotency_key_reused']);
      const otherCustomer = await order(crest, 'order-key-1', 'bob', [{ sku: 'ORD-1', quantity: 1 }]);
      expect(otherCustomer.status, 'keys are scoped to the customer').to.equal(201);
      const stock = await stockFromLog(store(), 'ORD-1');
      expect(stock).to.include({ reserved: 3, available: 7 });
      expectStockInvariant(stock);
    });

    it('treats concurrent duplicates as one order', async () => {
      await seedProduct(crest, 'ORD-2', 10);
      const lines = [{ sku: 'ORD-2', quantity: 1 }];
      const responses = await Promise.all(Array.from({ length: 10 }, () => order(crest, 'same-key-123', 'carol', lines)));
      expect(responses.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
      expect(new Set(responses.map((r) => r.body.orderId)).size).to.equal(1);
      expect(await stockFromLog(store(), 'ORD-2')).to.include({ reserved: 1 });
    });

    it('answers 409 out_of_stock, holds nothing, and lets the same key try again later', async () => {
      await seedProduct(crest, 'ORD-3', 2);
      await seedProduct(crest, 'ORD-4', 10);
      const lines = [
        { sku: 'ORD-4', quantity: 1 },
        { sku: 'ORD-3', quantity: 5 },
      ];
      const refused = await order(crest, 'try-again-1', 'dave', lines);
      expect([refused.status, refused.body.code]).to.deep.equal([409, 'out_of_stock']);
      expect(refused.body.skus).to.deep.equal(['ORD-3']);
      expect(await stockFromLog(store(), 'ORD-4')).to.include({ reserved: 0, available: 10 });
      await crest.call('POST', '/v1/inventory/ORD-3/receipts', { admin: true, body: { quantity: 10, receiptId: 'restock-3' } });
      const retried = await order(crest, 'try-again-1', 'dave', lines);
      expect(retried.status).to.equal(201);
      for (const sku of ['ORD-3', 'ORD-4']) expectStockInvariant(await stockFromLog(store(), sku));
    });

    it('answers 404 unknown_sku for a SKU that is not listed', async () => {
      const response = await order(crest, 'unknown-sku-1', 'erin', [{ sku: 'NOPE-1', quantity: 1 }]);
      expect([response.status, response.body.code]).to.deep.equal([404, 'unknown_sku']);
      expect(response.body.skus).to.deep.equal(['NOPE-1']);
    });

    it('cancels an order awaiting payment, releases its stock, and cancels again idempotently', async () => {
      await seedProduct(crest, 'CXL-1', 5);
      const placed = await order(crest, 'cancel-key-1', 'frank', [{ sku: 'CXL-1', quantity: 2 }]);
      const cancelled = await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`);
      expect(cancelled.status).to.equal(200);
      expect(cancelled.body).to.include({ orderId: placed.body.orderId, status: 'cancelled' });
      const head = await store().headPosition();
      const again = await crest.call('POST', `/v1/orders/${placed.body.orderId}/cancel`);
      expect(again.status).to.equal(200);
      expect(await store().headPosition()).to.equal(head);
      const stock = await stockFromLog(store(), 'CXL-1');
      expect(stock).to.include({ reserved: 0, available: 5 });
      expectStockInvariant(stock);
    });

    it('answers 404 when cancelling an order that does not exist', async () => {
      const response = await crest.call('POST', '/v1/orders/ord_AAAAAAAAAAAAAAAAAAAAAAAA/cancel');
      expect([response.status, response.body.code]).to.deep.equal([404, 'order_not_found']);
    });
  });

  it('serves the OpenAPI document and its rendering', async () => {
    const spec = await crest.call('GET', '/openapi.json');
    expect(spec.status).to.equal(200);
    expect(spec.body.openapi).to.match(/^3\./);
    expect(Object.keys(spec.body.paths)).to.include.members(['/v1/orders', '/v1/products/{sku}', '/v1/inventory/{sku}/receipts']);
    const docs = await crest.call('GET', '/docs/');
    expect(docs.status).to.equal(200);
  });
});

describe('restarts', () => {
  it('keeps every acknowledged order and the stock figures across a restart on the same data directory', async () => {
    const first = await startCrest();
    await seedProduct(first, 'KEEP-1', 20);
    const placed = await order(first, 'durable-key-1', 'gina', [{ sku: 'KEEP-1', quantity: 4 }]);
    expect(placed.status).to.equal(201);
    await first.stop();

    const second = await startCrest({}, first.dataDir);
    try {
      const replay = await order(second, 'durable-key-1', 'gina', [{ sku: 'KEEP-1', quantity: 4 }]);
      expect(replay.status).to.equal(200);
      expect(replay.body.orderId).to.equal(placed.body.orderId);
      const more = await order(second, 'durable-key-2', 'gina', [{ sku: 'KEEP-1', quantity: 16 }]);
      expect(more.status).to.equal(201);
      const stock = await stockFromLog(second.running.container.get(Tokens.EventStore), 'KEEP-1');
      expect(stock).to.include({ reserved: 20, available: 0 });
      expectStockInvariant(stock);
    } finally {
      await second.dispose();
    }
  });
});
