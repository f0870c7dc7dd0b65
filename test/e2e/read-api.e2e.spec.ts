import { expect } from 'chai';
import { seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { expectStockInvariant } from '../support/stock';

const metricValue = (text: string, name: string, labels: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('storefront read API', () => {
  let crest: TestCrest;
  before(async () => (crest = await startCrest()));
  after(() => crest.dispose());

  const put = (sku: string, body: Record<string, unknown>) => crest.call('PUT', `/v1/products/${sku}`, { admin: true, body });

  it('is ready once the read models have caught up', async () => {
    const ready = await crest.call('GET', '/health/ready');
    expect(ready.status).to.equal(200);
    expect((await crest.call('GET', '/health/live')).status).to.equal(200);
  });

  describe('browse', () => {
    const names = ['kiwi', 'apple', 'mango', 'fig', 'banana', 'cherry', 'date', 'grape', 'lemon', 'lime'];
    let last = 0;
    before(async () => {
      for (let i = 0; i < 45; i++) {
        const name = `${names[i % names.length]} ${String(i).padStart(2, '0')}`;
        // repeated prices make ties, which the SKU must break
        const r = await put(`BRW-${String(i).padStart(3, '0')}`, { name, category: 'browse-walk', priceCents: 100 * (i % 7) + 50, description: i % 5 === 0 ? 'organic seasonal' : 'imported' });
        last = r.body.position;
      }
      await put('BRW-OTHER', { name: 'apple other', category: 'elsewhere', priceCents: 75 });
      const delisted = await put('BRW-GONE', { name: 'apple gone', category: 'browse-walk', priceCents: 60 });
      last = (await crest.call('DELETE', '/v1/products/BRW-GONE', { admin: true })).body.position ?? delisted.body.position;
    });

    const walk = async (query: string) => {
      const seen: Array<{ sku: string; name: string; priceCents: number }> = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: { status: number; body: { items: typeof seen; nextCursor: string | null } } = await crest.call(
          'GET',
          `/v1/products?${query}&limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          { headers: { 'x-min-position': String(last) } },
        );
        expect(page.status).to.equal(200);
        seen.push(...page.body.items);
        cursor = page.body.nextCursor;
        pages++;
      } while (cursor && pages < 50);
      return seen;
    };

    for (const [sort, compare] of [
      ['price', (a: { priceCents: number; sku: string }, b: { priceCents: number; sku: string }) => a.priceCents - b.priceCents || a.sku.localeCompare(b.sku)],
      ['-price', (a: { priceCents: number; sku: string }, b: { priceCents: number; sku: string }) => b.priceCents - a.priceCents || a.sku.localeCompare(b.sku)],
      ['name', (a: { name: string; sku: string }, b: { name: string; sku: string }) => a.name.localeCompare(b.name) || a.sku.localeCompare(b.sku)],
    ] as const) {
      it(`walks every product exactly once in ${sort} order`, async () => {
        const seen = await walk(`category=browse-walk&sort=${sort}`);
        expect(seen).to.have.length(45);
        expect(new Set(seen.map((s) => s.sku)).size).to.equal(45);
        expect(seen).to.deep.equal([...seen].sort(compare as (a: unknown, b: unknown) => number));
      });
    }

    it('filters by text and price range', async () => {
      const organic = await walk('category=browse-walk&q=ORGANIC%20seasonal');
      expect(organic.map((p) => p.sku)).to.deep.equal(['BRW-000', 'BRW-005', 'BRW-010', 'BRW-015', 'BRW-020', 'BRW-025', 'BRW-030', 'BRW-035', 'BRW-040'].sort((a, b) => {
        const name = (sku: string) => `${names[Number(sku.slice(4)) % names.length]} ${sku.slice(5)}`;
        return name(a).localeCompare(name(b));
      }));
      const cheap = await walk('category=browse-walk&minPrice=100&maxPrice=250&sort=price');
      expect(cheap.every((p) => p.priceCents >= 100 && p.priceCents <= 250)).to.equal(true);
      expect(cheap).to.have.length(14);
    });

    it('refuses an out-of-range limit and a malformed cursor with 400', async () => {
      for (const query of ['limit=0', 'limit=101', 'limit=abc', 'cursor=not-a-cursor', 'sort=random', 'minPrice=-1']) {
        const response = await crest.call('GET', `/v1/products?${query}`);
        expect(response.status, query).to.equal(400);
        expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      }
    });
  });

  describe('product card', () => {
    it('shows a price change at once when read with X-Min-Position', async () => {
      await seedProduct(crest, 'CARD-1', 5, 1000);
      const first = await crest.call('GET', '/v1/products/CARD-1', { headers: { 'x-min-position': '0' } });
      expect(first.status).to.equal(200);
      const changed = await put('CARD-1', { name: 'Product CARD-1', category: 'flash', priceCents: 777 });
      const card = await crest.call('GET', '/v1/products/CARD-1', { headers: { 'x-min-position': String(changed.body.position) } });
      expect(card.body).to.include({ sku: 'CARD-1', priceCents: 777, available: 5, soldOut: false });
    });

    it('answers 304 to a matching If-None-Match, with ETag and Cache-Control', async () => {
      await seedProduct(crest, 'CARD-2', 1);
      const first = await crest.call('GET', '/v1/products/CARD-2');
      const etag = first.headers.get('etag');
      expect(etag).to.be.a('string');
      expect(first.headers.get('cache-control')).to.match(/max-age/);
      const again = await crest.call('GET', '/v1/products/CARD-2', { headers: { 'if-none-match': etag! } });
      expect(again.status).to.equal(304);
    });

    it('answers 404 for an unknown or delisted SKU', async () => {
      expect((await crest.call('GET', '/v1/products/NOPE-404')).body.code).to.equal('unknown_sku');
      await seedProduct(crest, 'CARD-GONE', 0);
      const gone = await crest.call('DELETE', '/v1/products/CARD-GONE', { admin: true });
      const card = await crest.call('GET', '/v1/products/CARD-GONE', { headers: { 'x-min-position': String(gone.body.position) } });
      expect(card.status).to.equal(404);
    });

    it('rebuilds a hot card once for 200 concurrent reads after an invalidation', async () => {
      await seedProduct(crest, 'CARD-HOT', 100);
      const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': 'hot-card-1' }, body: { customerId: 'hot', lines: [{ sku: 'CARD-HOT', quantity: 1 }] } });
      await crest.call('GET', '/v1/products/CARD-HOT', { headers: { 'x-min-position': String(placed.body.position) } });
      const second = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': 'hot-card-2' }, body: { customerId: 'hot', lines: [{ sku: 'CARD-HOT', quantity: 1 }] } });
      await crest.call('GET', '/v1/inventory/CARD-HOT', { headers: { 'x-min-position': String(second.body.position) } });
      const before = metricValue((await crest.call('GET', '/metrics')).body, 'crest_cache_rebuilds_total', 'namespace="card"');
      const reads = await Promise.all(Array.from({ length: 200 }, () => crest.call('GET', '/v1/products/CARD-HOT')));
      expect(reads.every((r) => r.status === 200)).to.equal(true);
      const after = metricValue((await crest.call('GET', '/metrics')).body, 'crest_cache_rebuilds_total', 'namespace="card"');
      expect(after - before).to.equal(1);
    });
  });

  describe('consistency', () => {
    it("shows the storefront's available equal to the inventory view after a burst of concurrent orders", async () => {
      await seedProduct(crest, 'BURST-1', 60);
      const responses = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': `burst-key-${i}` }, body: { customerId: `burst-${i % 9}`, lines: [{ sku: 'BURST-1', quantity: 1 }] } }),
        ),
      );
      const position = Math.max(...responses.filter((r) => r.status === 201).map((r) => r.body.position as number));
      const headers = { 'x-min-position': String(position) };
      const inventory = await crest.call('GET', '/v1/inventory/BURST-1', { headers });
      const card = await crest.call('GET', '/v1/products/BURST-1', { headers });
      const page = await crest.call('GET', '/v1/products?category=flash&limit=100', { headers });
      expect(inventory.body).to.include({ reserved: 60, available: 0, sold: 0, received: 60 });
      expectStockInvariant(inventory.body);
      expect(card.body).to.include({ available: inventory.body.available, soldOut: true });
      expect(page.body.items.find((p: { sku: string }) => p.sku === 'BURST-1')).to.include({ available: 0, soldOut: true });
    });

    it('answers 400 for a malformed X-Min-Position and 409 unknown_position for one beyond the head of the log', async () => {
      for (const value of ['-1', '12abc', '1.5', ' ']) {
        const bad = await crest.call('GET', '/v1/inventory/BURST-1', { headers: { 'x-min-position': value } });
        expect(bad.status, value).to.equal(400);
      }
      const stale = await crest.call('GET', '/v1/inventory/BURST-1', { headers: { 'x-min-position': '999999999' } });
      expect([stale.status, stale.body.code]).to.deep.equal([409, 'unknown_position']);
    });
  });

  describe('orders', () => {
    it("shows an order and the customer's orders newest first, paged", async () => {
      await seedProduct(crest, 'MINE-1', 20, 300);
      const ids: string[] = [];
      let position = 0;
      for (let i = 0; i < 5; i++) {
        const placed = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': `mine-order-${i}` }, body: { customerId: 'paging-customer', lines: [{ sku: 'MINE-1', quantity: 1 }] } });
        ids.push(placed.body.orderId);
        position = placed.body.position;
      }
      const cancelled = await crest.call('POST', `/v1/orders/${ids[0]}/cancel`);
      position = Math.max(position, cancelled.body.position);
      const headers = { 'x-min-position': String(position) };
      const order = await crest.call('GET', `/v1/orders/${ids[0]}`, { headers });
      expect(order.body).to.include({ orderId: ids[0], customerId: 'paging-customer', status: 'cancelled', totalCents: 300 });
      expect(order.body.lines).to.deep.equal([{ sku: 'MINE-1', quantity: 1, priceCents: 300 }]);
      const firstPage = await crest.call('GET', '/v1/customers/paging-customer/orders?limit=3', { headers });
      const secondPage = await crest.call('GET', `/v1/customers/paging-customer/orders?limit=3&cursor=${firstPage.body.nextCursor}`, { headers });
      const listed = [...firstPage.body.items, ...secondPage.body.items].map((o: { orderId: string }) => o.orderId);
      expect(listed).to.deep.equal([...ids].reverse());
      expect(secondPage.body.nextCursor).to.equal(null);
      expect((await crest.call('GET', '/v1/orders/ord_BBBBBBBBBBBBBBBBBBBBBBBB')).body.code).to.equal('order_not_found');
    });
  });
});
