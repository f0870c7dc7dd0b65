import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import type { OrderLine } from '../../domain/order/order';
import type { Projection } from '../../projections/projection';
import type { ReadModelStore } from '../../projections/ports';
import {
  customerOrdersProjection,
  inventoryProjection,
  ordersProjection,
  productsProjection,
  type CustomerOrderDocument,
  type ProductDocument,
} from '../../projections/read-models';
import type { BrowseCursor, BrowseQuery, BrowseSort, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries } from '../../read-api/ports';
import { expectStockInvariant } from '../support/stock';
import { RecordedLog } from '../support/recorded';

export type ReadModelBackend = ReadModelStore & CatalogueQueries & OrderQueries & InventoryQueries;

export interface ReadModelHarness {
  open(): Promise<ReadModelBackend>;
  /** Releases what `open` returned. */
  close?(store: ReadModelBackend): Promise<void>;
}

/*
 * Written so that any adapter, including one over a shared database that other tests (or earlier runs) have filled,
 * runs it unchanged: every test uses its own SKUs, order ids, customer, category and runner name, browses only
 * within its own category (or by a term only it uses), and reads only documents it wrote.
 */

const projections: readonly Projection[] = [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection];

const productFields = ['sku', 'listed', 'name', 'category', 'priceCents', 'description', 'available', 'position'] as const;
const pick = <T extends object, K extends keyof T>(value: T | undefined, keys: readonly K[]): Pick<T, K> | undefined =>
  value === undefined ? undefined : (Object.fromEntries(keys.map((k) => [k, value[k]])) as Pick<T, K>);
const productView = (doc: ProductDocument | undefined) => pick(doc, productFields);
const skus = (docs: readonly ProductDocument[]): string[] => docs.map((d) => d.sku);

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface ProductSpec {
  readonly sku: string;
  readonly name: string;
  readonly category: string;
  readonly priceCents: number;
  readonly description: string;
}

/** What browse must return for `sort`: by the sort key, ties broken by SKU ascending. */
const sortedFor = (sort: BrowseSort, products: readonly ProductSpec[]): string[] =>
  [...products]
    .sort((a, b) => {
      const byKey = sort === 'name' ? compareStrings(a.name.toLowerCase(), b.name.toLowerCase()) : sort === 'price' ? a.priceCents - b.priceCents : b.priceCents - a.priceCents;
      return byKey || compareStrings(a.sku, b.sku);
    })
    .map((p) => p.sku);

/** One test's corner of the shop: its own ids, category, runner and log of events. */
class Shop {
  readonly suffix = randomUUID().replaceAll('-', '').slice(0, 12);
  readonly runner = `contract-${this.suffix}`;
  readonly category = `cat${this.suffix}`;
  readonly otherCategory = `other${this.suffix}`;
  readonly customer = `cust-${this.suffix}`;
  readonly log = new RecordedLog();

  constructor(private readonly store: ReadModelBackend) {}

  sku(n: number | string): string {
    return `SKU-${this.suffix}-${typeof n === 'number' ? String(n).padStart(3, '0') : n}`;
  }

  newOrderId(): string {
    return `ord_${randomUUID().replaceAll('-', '').slice(0, 24)}`;
  }

  product(n: number | string, overrides: Partial<Omit<ProductSpec, 'sku'>> = {}): ProductSpec {
    return { sku: this.sku(n), name: `Product ${n}`, category: this.category, priceCents: 1000, description: 'A thing', ...overrides };
  }

  list(p: ProductSpec): RecordedEvent {
    return this.log.append(`product-${p.sku}`, 'ProductListed', { ...p });
  }

  delist(sku: string): RecordedEvent {
    return this.log.append(`product-${sku}`, 'ProductDelisted', { sku });
  }

  changePrice(sku: string, priceCents: number, previousPriceCents: number): RecordedEvent {
    return this.log.append(`product-${sku}`, 'PriceChanged', { sku, priceCents, previousPriceCents });
  }

  receive(sku: string, quantity: number): RecordedEvent {
    return this.log.append(`inventory-${sku}`, 'StockReceived', { sku, receiptId: randomUUID(), quantity });
  }

  adjust(sku: string, delta: number): RecordedEvent {
    return this.log.append(`inventory-${sku}`, 'StockAdjusted', { sku, adjustmentId: randomUUID(), delta, reason: 'count' });
  }

  reserve(sku: string, orderId: string, quantity: number): RecordedEvent {
    return this.log.append(`inventory-${sku}`, 'StockReserved', { sku, orderId, quantity, expiresAt: '2030-01-01T00:15:00.000Z' });
  }

  release(sku: string, orderId: string, quantity: number): RecordedEvent {
    return this.log.append(`inventory-${sku}`, 'ReservationReleased', { sku, orderId, quantity, reason: 'cancelled' });
  }

  confirm(sku: string, orderId: string, quantity: number): RecordedEvent {
    return this.log.append(`inventory-${sku}`, 'ReservationConfirmed', { sku, orderId, quantity });
  }

  place(orderId: string, placedAt: string, lines: readonly OrderLine[] = [{ sku: this.sku('x'), quantity: 1, priceCents: 1000 }], customerId = this.customer): RecordedEvent {
    const totalCents = lines.reduce((sum, l) => sum + l.quantity * l.priceCents, 0);
    const expiresAt = new Date(Date.parse(placedAt) + 15 * 60_000).toISOString();
    return this.log.append(`order-${orderId}`, 'OrderPlaced', { orderId, customerId, lines: [...lines], totalCents, requestHash: `hash-${orderId}`, placedAt, expiresAt });
  }

  cancel(orderId: string, cancelledAt: string, customerId = this.customer): RecordedEvent {
    return this.log.append(`order-${orderId}`, 'OrderCancelled', { orderId, customerId, cancelledAt });
  }

  reject(orderId: string, rejectedAt: string, customerId = this.customer): RecordedEvent {
    return this.log.append(`order-${orderId}`, 'OrderRejected', { orderId, customerId, requestHash: `hash-${orderId}`, reason: 'out_of_stock', skus: [], rejectedAt });
  }

  /** Applies `events` as one batch with the checkpoint at the last one (or at the log's head for an empty batch). */
  apply(events: readonly RecordedEvent[], position = events[events.length - 1]?.position ?? this.log.head) {
    return this.store.applyBatch(this.runner, projections, events, position);
  }

  /** Applies every event made so far (a redelivery for those already applied). */
  applyAll() {
    return this.apply(this.log.events);
  }

  browse(query: Partial<BrowseQuery> = {}) {
    return this.store.browse({ category: this.category, sort: 'price', limit: 100, ...query });
  }

  /** Follows `next` cursors to the end; fails if paging does not end or returns an empty page before the last. */
  async browseEvery(query: Omit<BrowseQuery, 'after'>): Promise<{ items: ProductDocument[]; pages: number }> {
    const items: ProductDocument[] = [];
    let after: BrowseCursor | undefined;
    for (let pages = 1; pages <= 1000; pages++) {
      const page = await this.store.browse({ ...query, ...(after ? { after } : {}) });
      expect(page.items.length, `page ${pages} size`).to.be.at.most(query.limit);
      items.push(...page.items);
      if (!page.next) return { items, pages };
      expect(page.items.length, `page ${pages} has a next cursor but no items`).to.be.greaterThan(0);
      after = page.next;
    }
    return expect.fail('browse paging did not end after 1000 pages');
  }

  async customerOrdersEvery(limit: number, customerId = this.customer): Promise<{ items: CustomerOrderDocument[]; pages: number }> {
    const items: CustomerOrderDocument[] = [];
    let after: CustomerOrdersCursor | undefined;
    for (let pages = 1; pages <= 1000; pages++) {
      const page = await this.store.customerOrders(customerId, limit, after);
      expect(page.items.length, `page ${pages} size`).to.be.at.most(limit);
      items.push(...page.items);
      if (!page.next) return { items, pages };
      expect(page.items.length, `page ${pages} has a next cursor but no items`).to.be.greaterThan(0);
      after = page.next;
    }
    return expect.fail('customer order paging did not end after 1000 pages');
  }

  /** Everything the queries say about this shop's documents, for before/after comparisons. */
  async snapshot(skuList: readonly string[], orderIds: readonly string[]) {
    return {
      products: await Promise.all(skuList.map(async (sku) => productView(await this.store.product(sku)))),
      inventory: await Promise.all(skuList.map((sku) => this.store.inventory(sku))),
      orders: await Promise.all(orderIds.map((id) => this.store.order(id))),
      customerOrders: (await this.store.customerOrders(this.customer, 100)).items,
      browse: skus((await this.browse()).items),
      checkpoint: await this.store.loadCheckpoint(this.runner),
    };
  }
}

export const readModelContract = (name: string, harness: ReadModelHarness): void => {
  describe(`${name} (read-model contract)`, () => {
    let store: ReadModelBackend;
    let shop: Shop;

    before(async () => {
      store = await harness.open();
    });

    beforeEach(() => {
      shop = new Shop(store);
    });

    after(async () => {
      await harness.close?.(store);
    });

    describe('applyBatch', () => {
      it('stores the documents that the queries then return', async () => {
        const kettle = shop.product('kettle', { name: 'Kettle', priceCents: 2999, description: 'Boils water' });
        const orderId = shop.newOrderId();
        const placedAt = '2030-01-01T10:00:00.000Z';
        const lines = [{ sku: kettle.sku, quantity: 2, priceCents: 2999 }];
        shop.list(kettle);
        shop.receive(kettle.sku, 10);
        shop.reserve(kettle.sku, orderId, 2);
        const placed = shop.place(orderId, placedAt, lines);
        await shop.applyAll();

        expect(productView(await store.product(kettle.sku))).to.deep.equal({ ...kettle, listed: true, available: 8, position: 3 });
        expect(await store.inventory(kettle.sku)).to.include({ sku: kettle.sku, received: 10, adjusted: 0, reserved: 2, sold: 0, available: 8, position: 3 });
        const order = await store.order(orderId);
        expect(pick(order, ['orderId', 'customerId', 'status', 'totalCents', 'createdAt', 'updatedAt', 'expiresAt', 'position'])).to.deep.equal({
          orderId,
          customerId: shop.customer,
          status: 'awaiting_payment',
          totalCents: 5998,
          createdAt: placedAt,
          updatedAt: placedAt,
          expiresAt: (placed.data as { expiresAt: string }).expiresAt,
          position: 4,
        });
        expect(order!.lines).to.deep.equal(lines);
        const mine = await store.customerOrders(shop.customer, 10);
        expect(mine.items.map((o) => pick(o, ['customerId', 'orderId', 'status', 'totalCents', 'createdAt', 'position']))).to.deep.equal([
          { customerId: shop.customer, orderId, status: 'awaiting_payment', totalCents: 5998, createdAt: placedAt, position: 4 },
        ]);
        expect(mine.next).to.equal(undefined);
        expect(skus((await shop.browse()).items)).to.deep.equal([kettle.sku]);
      });

      it('returns one change per document the batch changed, with its versions before and after', async () => {
        const p = shop.product(1);
        const orderId = shop.newOrderId();
        shop.list(p);
        shop.receive(p.sku, 5);
        shop.place(orderId, '2030-01-01T10:00:00.000Z');
        const changes = await shop.applyAll();
        expect(changes.map((c) => `${c.collection}/${c.id}`).sort()).to.deep.equal(
          [`products/${p.sku}`, `inventory/${p.sku}`, `orders/${orderId}`, `customer_orders/${customerOrdersProjection.idFor(shop.customer, orderId)}`].sort(),
        );
        const product = changes.find((c) => c.collection === 'products')!;
        expect(product.before).to.equal(undefined);
        expect(product.after).to.include({ sku: p.sku, listed: true, available: 5, position: 2 });

        const priceChanged = shop.changePrice(p.sku, 500, 1000);
        const next = await shop.apply([priceChanged]);
        expect(next.map((c) => `${c.collection}/${c.id}`)).to.deep.equal([`products/${p.sku}`]);
        expect(next[0]!.before).to.include({ priceCents: 1000, position: 2 });
        expect(next[0]!.after).to.include({ priceCents: 500, position: priceChanged.position });
      });

      it('stores the checkpoint passed with the batch', async () => {
        expect(await store.loadCheckpoint(shop.runner)).to.equal(undefined);
        shop.list(shop.product(1));
        await shop.apply(shop.log.events, 3);
        expect(await store.loadCheckpoint(shop.runner)).to.equal(3);
        // a batch of events no projection handles still moves the checkpoint
        await shop.apply([], 17);
        expect(await store.loadCheckpoint(shop.runner)).to.equal(17);
        expect(await store.loadCheckpoint(`${shop.runner}-other`)).to.equal(undefined);
      });

      it('changes nothing and reports no changes when the same batch is delivered again', async () => {
        const p = shop.product(1);
        const orderId = shop.newOrderId();
        shop.list(p);
        shop.receive(p.sku, 5);
        shop.reserve(p.sku, orderId, 2);
        shop.place(orderId, '2030-01-01T10:00:00.000Z', [{ sku: p.sku, quantity: 2, priceCents: 1000 }]);
        shop.cancel(orderId, '2030-01-01T10:01:00.000Z');
        shop.release(p.sku, orderId, 2);
        expect(await shop.applyAll()).to.have.length.greaterThan(0);
        const before = await shop.snapshot([p.sku], [orderId]);

        expect(await shop.applyAll()).to.deep.equal([]);
        expect(await shop.snapshot([p.sku], [orderId])).to.deep.equal(before);
        expect(before.inventory[0]).to.include({ received: 5, reserved: 0, available: 5 });
      });

      it('applies only the new events of a batch that overlaps one already applied', async () => {
        const p = shop.product(1);
        shop.list(p);
        shop.receive(p.sku, 5);
        await shop.applyAll();
        const adjusted = shop.adjust(p.sku, -1);
        const changes = await shop.applyAll();
        expect(changes.map((c) => `${c.collection}/${c.id}`).sort()).to.deep.equal([`inventory/${p.sku}`, `products/${p.sku}`]);
        expect(await store.inventory(p.sku)).to.include({ received: 5, adjusted: -1, available: 4, position: adjusted.position });
        expect(await store.product(p.sku)).to.include({ available: 4, position: adjusted.position });
      });
      it('updates hundreds of existing documents in one batch', async () => {
        const products = Array.from({ length: 250 }, (_, n) => shop.product(n, { priceCents: 1000 }));
        for (const p of products) shop.list(p);
        await shop.applyAll();
        const repriced = products.map((p) => shop.changePrice(p.sku, 1500, 1000));
        const changes = await shop.apply(repriced);
        expect(changes.filter((c) => c.collection === 'products')).to.have.length(250);
        const page = await shop.browse({ category: shop.category, sort: 'price', limit: 100 });
        expect(page.items.map((d) => d.priceCents)).to.deep.equal(Array(100).fill(1500));
        expect(await store.product(products[249]!.sku)).to.include({ priceCents: 1500, position: repriced[249]!.position });
      });

      it('keeps the newest version when two writers create the same documents at once', async () => {
        const p = shop.product(1);
        const listed = shop.list(p);
        const received = shop.receive(p.sku, 5);
        await Promise.all([shop.apply([listed, received]), shop.apply([listed])]);
        expect(await store.product(p.sku)).to.include({ available: 5, position: received.position });
        expect(await store.inventory(p.sku)).to.include({ received: 5, available: 5, position: received.position });
      });
    });

    describe('reset', () => {
      it('drops the documents and the checkpoint, and a replay builds them again', async () => {
        const p = shop.product(1);
        const orderId = shop.newOrderId();
        shop.list(p);
        shop.receive(p.sku, 5);
        shop.place(orderId, '2030-01-01T10:00:00.000Z');
        await shop.applyAll();
        const built = await shop.snapshot([p.sku], [orderId]);

        await store.reset(shop.runner, projections);
        expect(await store.loadCheckpoint(shop.runner)).to.equal(undefined);
        expect(await store.product(p.sku)).to.equal(undefined);
        expect(await store.inventory(p.sku)).to.equal(undefined);
        expect(await store.order(orderId)).to.equal(undefined);
        expect((await store.customerOrders(shop.customer, 10)).items).to.deep.equal([]);
        expect((await shop.browse()).items).to.deep.equal([]);

        await shop.applyAll();
        expect(await shop.snapshot([p.sku], [orderId])).to.deep.equal(built);
      });
    });

    describe('product()', () => {
      it('returns undefined for an unknown SKU', async () => {
        expect(await store.product(shop.sku('nothing'))).to.equal(undefined);
      });

      it('keeps a delisted product, marked as not listed', async () => {
        const p = shop.product(1);
        shop.list(p);
        shop.delist(p.sku);
        await shop.applyAll();
        expect(await store.product(p.sku)).to.include({ sku: p.sku, listed: false, name: p.name });
      });
    });

    describe('browse()', () => {
      it('lists only products of the category asked for', async () => {
        const mine = [shop.product(1), shop.product(2), shop.product(3)];
        const theirs = [shop.product(4, { category: shop.otherCategory }), shop.product(5, { category: shop.otherCategory })];
        for (const p of [...mine, ...theirs]) shop.list(p);
        await shop.applyAll();
        expect(skus((await shop.browse()).items)).to.deep.equal(mine.map((p) => p.sku));
        expect(skus((await shop.browse({ category: shop.otherCategory })).items)).to.deep.equal(theirs.map((p) => p.sku));
      });

      it('does not list delisted products, and lists them again once relisted', async () => {
        const products = [1, 2, 3, 4].map((n) => shop.product(n, { priceCents: n * 100 }));
        for (const p of products) shop.list(p);
        shop.delist(products[1]!.sku);
        shop.delist(products[3]!.sku);
        await shop.applyAll();
        expect(skus((await shop.browse()).items)).to.deep.equal([products[0]!.sku, products[2]!.sku]);
        expect(skus((await shop.browse({ sort: 'name' })).items)).to.deep.equal([products[0]!.sku, products[2]!.sku]);

        await shop.apply([shop.list(products[1]!)]);
        expect(skus((await shop.browse()).items)).to.deep.equal([products[0]!.sku, products[1]!.sku, products[2]!.sku]);
      });

      it('matches every text term, case-insensitively, in the name, category or description', async () => {
        const red = shop.product('red', { name: 'Red Kettle', description: 'Stainless steel, 1.7 litres' });
        const blue = shop.product('blue', { name: 'Blue Kettle', description: 'Plastic body' });
        const mug = shop.product('mug', { name: 'Steel Mug', description: 'Keeps coffee hot' });
        for (const p of [red, blue, mug]) shop.list(p);
        await shop.applyAll();
        const found = async (text: string, category: string | undefined = shop.category) => skus((await shop.browse({ text, category, sort: 'name' })).items).sort();

        expect(await found('kettle')).to.deep.equal([red.sku, blue.sku].sort());
        expect(await found('KETTLE steel')).to.deep.equal([red.sku]);
        expect(await found('  steel  ')).to.deep.equal([red.sku, mug.sku].sort());
        expect(await found('coffee')).to.deep.equal([mug.sku]);
        expect(await found('kettle coffee')).to.deep.equal([]);
        // the category is a term too: this test's category is unique, so no category filter is needed
        expect(await found(shop.category.toUpperCase(), undefined)).to.deep.equal([red.sku, blue.sku, mug.sku].sort());
        expect(await found(`${shop.category} plastic`, undefined)).to.deep.equal([blue.sku]);
      });

      it('filters by minimum and maximum price, both inclusive', async () => {
        const products = [100, 200, 300, 400, 500].map((priceCents, n) => shop.product(n, { priceCents }));
        for (const p of products) shop.list(p);
        await shop.applyAll();
        const prices = async (query: Partial<BrowseQuery>) => (await shop.browse(query)).items.map((d) => d.priceCents);
        expect(await prices({ minPrice: 200 })).to.deep.equal([200, 300, 400, 500]);
        expect(await prices({ maxPrice: 400 })).to.deep.equal([100, 200, 300, 400]);
        expect(await prices({ minPrice: 200, maxPrice: 400 })).to.deep.equal([200, 300, 400]);
        expect(await prices({ minPrice: 250, maxPrice: 260 })).to.deep.equal([]);
        expect(await prices({ minPrice: 300, maxPrice: 300, sort: '-price' })).to.deep.equal([300]);
      });

      it("sorts by 'price', '-price' and 'name', breaking ties by SKU", async () => {
        // SKU order is the reverse of listing order, so a store that falls back to insertion order fails
        const products = [
          shop.product('f', { name: 'Cherry', priceCents: 300 }),
          shop.product('e', { name: 'Apple', priceCents: 100 }),
          shop.product('d', { name: 'Banana', priceCents: 300 }),
          shop.product('c', { name: 'Apple', priceCents: 200 }),
          shop.product('b', { name: 'Cherry', priceCents: 100 }),
          shop.product('a', { name: 'Banana', priceCents: 300 }),
        ];
        for (const p of products) shop.list(p);
        await shop.applyAll();
        for (const sort of ['price', '-price', 'name'] as const) {
          expect(skus((await shop.browse({ sort })).items), sort).to.deep.equal(sortedFor(sort, products));
        }
        expect(skus((await shop.browse({ sort: 'price' })).items)).to.deep.equal([shop.sku('b'), shop.sku('e'), shop.sku('c'), shop.sku('a'), shop.sku('d'), shop.sku('f')]);
        expect(skus((await shop.browse({ sort: '-price' })).items)).to.deep.equal([shop.sku('a'), shop.sku('d'), shop.sku('f'), shop.sku('c'), shop.sku('b'), shop.sku('e')]);
        expect(skus((await shop.browse({ sort: 'name' })).items)).to.deep.equal([shop.sku('c'), shop.sku('e'), shop.sku('a'), shop.sku('d'), shop.sku('b'), shop.sku('f')]);
      });

      for (const sort of ['price', '-price', 'name'] as const) {
        it(`walks every matching product exactly once, in order, page by page (sort ${sort})`, async () => {
          // many ties in price and name, so pages break inside runs of equal keys
          const words = ['Apple', 'Banana', 'Cherry', 'Damson', 'Elder', 'Fig', 'Grape'];
          const matching = Array.from({ length: 57 }, (_, n) => shop.product(n, { name: `${words[(n * 3) % 7]!} Box`, priceCents: ((n * 37) % 11) * 100 + 100 }));
          const otherCategory = Array.from({ length: 8 }, (_, n) => shop.product(100 + n, { category: shop.otherCategory, name: `${words[n % 7]!} Box`, priceCents: (n % 11) * 100 + 100 }));
          const delisted = Array.from({ length: 5 }, (_, n) => shop.product(200 + n, { name: `${words[n % 7]!} Box`, priceCents: (n % 11) * 100 + 100 }));
          // listed in an order unrelated to any sort
          for (const p of [...matching, ...otherCategory, ...delisted].sort((a, b) => compareStrings(a.sku.split('').reverse().join(''), b.sku.split('').reverse().join('')))) shop.list(p);
          for (const p of delisted) shop.delist(p.sku);
          await shop.applyAll();

          const { items, pages } = await shop.browseEvery({ category: shop.category, sort, limit: 10 });
          expect(skus(items)).to.deep.equal(sortedFor(sort, matching));
          expect(new Set(skus(items)).size).to.equal(57);
          expect(pages).to.be.within(6, 7);
          for (const item of items) expect(item).to.include({ category: shop.category, listed: true });
        });
      }

      it('pages with filters: a price range across pages', async () => {
        const products = Array.from({ length: 30 }, (_, n) => shop.product(n, { priceCents: (n % 10) * 100 }));
        for (const p of products) shop.list(p);
        await shop.applyAll();
        const { items } = await shop.browseEvery({ category: shop.category, sort: '-price', limit: 4, minPrice: 200, maxPrice: 700 });
        expect(skus(items)).to.deep.equal(sortedFor('-price', products.filter((p) => p.priceCents >= 200 && p.priceCents <= 700)));
      });

      it('keeps the browse order when only availability changes, and shows the new availability', async () => {
        const products = [5, 3, 9, 1, 7].map((n, i) => shop.product(i, { name: `Item ${String.fromCharCode(97 + n)}`, priceCents: n * 100 }));
        for (const p of products) shop.list(p);
        await shop.applyAll();
        const orderOf = async (sort: BrowseSort) => skus((await shop.browse({ sort })).items);
        const before = { price: await orderOf('price'), '-price': await orderOf('-price'), name: await orderOf('name') };
        const firstPage = await shop.browse({ sort: 'price', limit: 2 });

        const stock = products.map((p, i) => shop.receive(p.sku, 10 + i));
        stock.push(shop.reserve(products[0]!.sku, shop.newOrderId(), 4));
        await shop.apply(stock);

        expect({ price: await orderOf('price'), '-price': await orderOf('-price'), name: await orderOf('name') }).to.deep.equal(before);
        expect((await shop.browse({ sort: 'price' })).items.map((d) => [d.sku, d.available])).to.deep.equal(
          before.price.map((sku) => {
            const i = products.findIndex((p) => p.sku === sku);
            return [sku, 10 + i - (i === 0 ? 4 : 0)];
          }),
        );
        // a cursor taken before the stock moved still continues where it left off
        const rest = await shop.browse({ sort: 'price', limit: 10, after: firstPage.next });
        expect([...skus(firstPage.items), ...skus(rest.items)]).to.deep.equal(before.price);
      });

      it('moves a product in the browse order when its price or name changes', async () => {
        const products = [1, 2, 3].map((n) => shop.product(n, { name: `Item ${n}`, priceCents: n * 100 }));
        for (const p of products) shop.list(p);
        await shop.applyAll();
        expect(skus((await shop.browse({ sort: 'price' })).items)).to.deep.equal(products.map((p) => p.sku));

        await shop.apply([shop.changePrice(products[0]!.sku, 1000, 100)]);
        expect(skus((await shop.browse({ sort: 'price' })).items)).to.deep.equal([products[1]!.sku, products[2]!.sku, products[0]!.sku]);

        await shop.apply([shop.log.append(`product-${products[2]!.sku}`, 'ProductDetailsChanged', { sku: products[2]!.sku, name: 'Item 0', category: shop.category, description: 'x' })]);
        expect(skus((await shop.browse({ sort: 'name' })).items)).to.deep.equal([products[2]!.sku, products[0]!.sku, products[1]!.sku]);
      });

      it('has no next cursor when the page holds the last matching product', async () => {
        for (const n of [1, 2, 3]) shop.list(shop.product(n));
        await shop.applyAll();
        const page = await shop.browse({ limit: 5 });
        expect(page.items).to.have.length(3);
        expect(page.next).to.equal(undefined);
      });
    });

    describe('order()', () => {
      it('returns undefined for an unknown order', async () => {
        expect(await store.order(shop.newOrderId())).to.equal(undefined);
      });

      it('follows an order from placed to cancelled', async () => {
        const orderId = shop.newOrderId();
        shop.place(orderId, '2030-01-01T10:00:00.000Z');
        await shop.applyAll();
        expect(await store.order(orderId)).to.include({ orderId, customerId: shop.customer, status: 'awaiting_payment', updatedAt: '2030-01-01T10:00:00.000Z' });
        await shop.apply([shop.cancel(orderId, '2030-01-01T10:03:00.000Z')]);
        expect(await store.order(orderId)).to.include({ status: 'cancelled', createdAt: '2030-01-01T10:00:00.000Z', updatedAt: '2030-01-01T10:03:00.000Z', totalCents: 1000 });
      });

      it('shows a rejected order', async () => {
        const orderId = shop.newOrderId();
        shop.reject(orderId, '2030-01-01T10:00:00.000Z');
        await shop.applyAll();
        expect(await store.order(orderId)).to.include({ orderId, customerId: shop.customer, status: 'rejected', totalCents: 0 });
      });
    });

    describe('inventory()', () => {
      it('returns undefined for an unknown SKU', async () => {
        expect(await store.inventory(shop.sku('nothing'))).to.equal(undefined);
      });

      it('follows received, adjusted, reserved, released and confirmed stock', async () => {
        const sku = shop.sku(1);
        const [a, b] = [shop.newOrderId(), shop.newOrderId()];
        shop.receive(sku, 10);
        shop.adjust(sku, -2);
        shop.reserve(sku, a, 3);
        shop.reserve(sku, b, 2);
        shop.release(sku, a, 3);
        const last = shop.confirm(sku, b, 2);
        await shop.applyAll();
        const inventory = await store.inventory(sku);
        expect(pick(inventory, ['sku', 'received', 'adjusted', 'reserved', 'sold', 'available', 'position'])).to.deep.equal({
          sku,
          received: 10,
          adjusted: -2,
          reserved: 0,
          sold: 2,
          available: 6,
          position: last.position,
        });
        expectStockInvariant(inventory!);
        expect(await store.product(sku)).to.include({ listed: false, available: 6 });
      });
    });

    describe('customerOrders()', () => {
      it('returns nothing for a customer without orders', async () => {
        const page = await store.customerOrders(`${shop.customer}-none`, 10);
        expect(page.items).to.deep.equal([]);
        expect(page.next).to.equal(undefined);
      });

      it('lists a customer’s orders newest first, page by page, ties by order id', async () => {
        const times = ['2030-01-01T10:00:00.000Z', '2030-01-03T10:00:00.000Z', '2030-01-02T10:00:00.000Z', '2030-01-02T10:00:00.000Z', '2030-01-05T10:00:00.000Z', '2030-01-02T10:00:00.000Z', '2030-01-04T10:00:00.000Z'];
        const orders = times.map((createdAt) => ({ orderId: shop.newOrderId(), createdAt }));
        for (const o of orders) shop.place(o.orderId, o.createdAt);
        shop.cancel(orders[1]!.orderId, '2030-01-03T11:00:00.000Z');
        const rejected = { orderId: shop.newOrderId(), createdAt: '2030-01-01T12:00:00.000Z' };
        shop.reject(rejected.orderId, rejected.createdAt);
        // another customer's order at the same time as ours
        shop.place(shop.newOrderId(), '2030-01-02T10:00:00.000Z', undefined, `${shop.customer}-other`);
        await shop.applyAll();

        const expected = [...orders, rejected]
          .sort((x, y) => compareStrings(y.createdAt, x.createdAt) || compareStrings(x.orderId, y.orderId))
          .map((o) => o.orderId);
        const { items, pages } = await shop.customerOrdersEvery(3);
        expect(items.map((o) => o.orderId)).to.deep.equal(expected);
        expect(pages).to.equal(3);
        for (const o of items) expect(o.customerId).to.equal(shop.customer);
        const statuses = Object.fromEntries(items.map((o) => [o.orderId, o.status]));
        expect(statuses[orders[1]!.orderId]).to.equal('cancelled');
        expect(statuses[rejected.orderId]).to.equal('rejected');
        expect(statuses[orders[0]!.orderId]).to.equal('awaiting_payment');

        const all = await store.customerOrders(shop.customer, 100);
        expect(all.items.map((o) => o.orderId)).to.deep.equal(expected);
        expect(all.next).to.equal(undefined);
      });
    });
  });
};
