import { expect } from 'chai';
import { Tokens } from '../../infra/composition/root';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant, stockFromLog } from '../support/stock';

describe('flash sale over HTTP', () => {
  let crest: TestCrest;
  before(async () => (crest = await startCrest()));
  after(() => crest.dispose());

  it('never oversells one SKU under 64 concurrent clients', async () => {
    const stock = 300;
    await seedProduct(crest, 'FLASH-1', stock, 999);
    const clients = 64;
    const attemptsPerClient = 20;
    const statuses = new Map<number, number>();
    let unitsAcknowledged = 0;
    await Promise.all(
      Array.from({ length: clients }, async (_, client) => {
        for (let attempt = 0; attempt < attemptsPerClient; attempt++) {
          const quantity = 1 + ((client + attempt) % 3);
          const response = await crest.call('POST', '/v1/orders', {
            headers: { 'idempotency-key': `flash-${client}-${attempt}` },
            body: { customerId: `customer-${client}`, lines: [{ sku: 'FLASH-1', quantity }] },
          });
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          if (response.status === 201) unitsAcknowledged += quantity;
        }
      }),
    );
    expect([...statuses.keys()].every((s) => s === 201 || s === 409), `statuses ${JSON.stringify([...statuses])}`).to.equal(true);
    const figures = await stockFromLog(crest.running.container.get(Tokens.EventStore), 'FLASH-1');
    expect(figures.reserved).to.equal(unitsAcknowledged);
    expect(figures.reserved).to.be.at.most(stock);
    expect(figures.available, 'the sale ran until no order could be filled').to.be.lessThan(3);
    expectStockInvariant(figures);
  });

  it('keeps several hot SKUs consistent when orders span them', async () => {
    const skus = ['MULTI-A', 'MULTI-B', 'MULTI-C'];
    for (const sku of skus) await seedProduct(crest, sku, 50);
    const orders = await Promise.all(
      Array.from({ length: 120 }, (_, i) =>
        crest.call('POST', '/v1/orders', {
          headers: { 'idempotency-key': `multi-order-${i}` },
          body: { customerId: `multi-${i % 7}`, lines: [{ sku: skus[i % 3]!, quantity: 1 }, { sku: skus[(i + 1) % 3]!, quantity: 1 }] },
        }),
      ),
    );
    const placed = orders.filter((o) => o.status === 201).length;
    const store = crest.running.container.get(Tokens.EventStore);
    let reserved = 0;
    for (const sku of skus) {
      const figures = await stockFromLog(store, sku);
      expectStockInvariant(figures);
      reserved += figures.reserved;
    }
    // a rejected order released whatever it held, so only placed orders hold stock: two units each
    expect(reserved).to.equal(placed * 2);
  });
});
