import { expect } from 'chai';
import type { RecordedEvent } from '../domain/kernel/event-store';
import { expectStockInvariant } from '../test/support/stock';
import { recorded, redelivered, RecordedLog } from '../test/support/recorded';
import { foldBatch } from './fold-batch';
import { applyGuarded, type PositionedDocument, type Projection } from './projection';
import type { DocumentChange } from './ports';
import {
  customerOrdersProjection,
  inventoryProjection,
  listingChanged,
  ordersProjection,
  productsProjection,
  type CustomerOrderDocument,
  type InventoryDocument,
  type OrderDocument,
  type ProductDocument,
} from './read-models';

const allProjections: readonly Projection[] = [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection];

/** Documents by collection, then id: the in-memory map the specs fold into. */
type Documents = Map<string, Map<string, PositionedDocument>>;

const copyOf = (docs: Documents): Documents => new Map([...docs].map(([name, byId]) => [name, new Map(byId)]));

/** Folds one batch the way an adapter does (foldBatch against the current documents), storing its changes. */
const applyBatch = (docs: Documents, events: readonly RecordedEvent[]): DocumentChange[] => {
  const changes = foldBatch(allProjections, events, (collection, id) => docs.get(collection)?.get(id));
  for (const change of changes) {
    let byId = docs.get(change.collection);
    if (!byId) docs.set(change.collection, (byId = new Map()));
    if (change.after) byId.set(change.id, change.after);
    else byId.delete(change.id);
  }
  return changes;
};

/** Folds `events` in batches of `batchSize`. */
const project = (events: readonly RecordedEvent[], batchSize = Number.POSITIVE_INFINITY, docs: Documents = new Map()): Documents => {
  const size = Number.isFinite(batchSize) ? batchSize : Math.max(1, events.length);
  for (let i = 0; i < events.length; i += size) applyBatch(docs, events.slice(i, i + size));
  return docs;
};

/** The same fold without foldBatch: applyGuarded, one event and one document at a time. */
const projectOneByOne = (events: readonly RecordedEvent[]): Documents => {
  const docs: Documents = new Map();
  for (const event of events) {
    for (const projection of allProjections) {
      if (!projection.eventTypes.has(event.type)) continue;
      let byId = docs.get(projection.name);
      if (!byId) docs.set(projection.name, (byId = new Map()));
      for (const id of projection.documentIds(event)) {
        const after = applyGuarded(projection, byId.get(id), event, id);
        if (after) byId.set(id, after);
        else byId.delete(id);
      }
    }
  }
  return docs;
};

interface ProjectionThen {
  /** The document `id` of `projection` once every given and `when` event has been folded. */
  thenDocument<D extends PositionedDocument>(projection: Projection<D>, id: string, expected: D | undefined): void;
  /** The `when` events changed no document at all. */
  thenNoChange(): void;
  readonly documents: Documents;
  readonly changes: readonly DocumentChange[];
}

/**
 * Given/when/then for projections: `given` events are folded first (one batch), then the `when` events (one batch);
 * the assertions look at the resulting documents and at the changes the `when` batch made.
 */
const given = (history: readonly RecordedEvent[]) => ({
  when(events: readonly RecordedEvent[]): ProjectionThen {
    const documents = project(history);
    const changes = applyBatch(documents, events);
    return {
      documents,
      changes,
      thenDocument(projection, id, expected) {
        expect(documents.get(projection.name)?.get(id), `${projection.name}/${id}`).to.deep.equal(expected);
      },
      thenNoChange() {
        expect(changes, 'changes made by the when events').to.deep.equal([]);
      },
    };
  },
});

const doc = <D extends PositionedDocument>(docs: Documents, projection: Projection<D>, id: string): D | undefined => docs.get(projection.name)?.get(id) as D | undefined;

// ---- fixtures ---------------------------------------------------------------------------------------------------

const SKU = 'KETTLE-1';
const productStream = `product-${SKU}`;
const inventoryStream = `inventory-${SKU}`;
const listedData = { sku: SKU, name: 'Red Kettle', category: 'Kitchen', priceCents: 2999, description: 'A 1.7 l stainless steel kettle' };

const ORDER = 'ord_AAAAAAAAAAAAAAAAAAAAAAAA';
const CUSTOMER = 'cust-1';
const orderStream = `order-${ORDER}`;
const placedAt = '2025-03-01T10:00:00.000Z';
const expiresAt = '2025-03-01T10:15:00.000Z';
const placedData = {
  orderId: ORDER,
  customerId: CUSTOMER,
  lines: [
    { sku: SKU, quantity: 2, priceCents: 2999 },
    { sku: 'MUG-1', quantity: 1, priceCents: 500 },
  ],
  totalCents: 6498,
  requestHash: 'hash-1',
  placedAt,
  expiresAt,
};

/** Receipts, an adjustment, two reservations, a release and a confirmation, with the expected figures after each. */
const stockStory = (log: RecordedLog) => [
  { event: log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 10 }), expected: { received: 10, adjusted: 0, reserved: 0, sold: 0, available: 10 } },
  { event: log.append(inventoryStream, 'StockAdjusted', { sku: SKU, adjustmentId: 'a1', delta: -2, reason: 'damaged' }), expected: { received: 10, adjusted: -2, reserved: 0, sold: 0, available: 8 } },
  { event: log.append(inventoryStream, 'StockReserved', { sku: SKU, orderId: 'ord-a', quantity: 3, expiresAt }), expected: { received: 10, adjusted: -2, reserved: 3, sold: 0, available: 5 } },
  { event: log.append(inventoryStream, 'StockReserved', { sku: SKU, orderId: 'ord-b', quantity: 2, expiresAt }), expected: { received: 10, adjusted: -2, reserved: 5, sold: 0, available: 3 } },
  { event: log.append(inventoryStream, 'ReservationReleased', { sku: SKU, orderId: 'ord-a', quantity: 3, reason: 'cancelled' }), expected: { received: 10, adjusted: -2, reserved: 2, sold: 0, available: 6 } },
  { event: log.append(inventoryStream, 'ReservationConfirmed', { sku: SKU, orderId: 'ord-b', quantity: 2 }), expected: { received: 10, adjusted: -2, reserved: 0, sold: 2, available: 6 } },
  { event: log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r2', quantity: 4 }), expected: { received: 14, adjusted: -2, reserved: 0, sold: 2, available: 10 } },
];

/** A whole shop day: products, stock and orders of two customers, interleaved as in a real log. */
const wholeLog = (): RecordedEvent[] => {
  const log = new RecordedLog();
  const mug = { sku: 'MUG-1', name: 'Mug', category: 'Kitchen', priceCents: 500, description: 'Stoneware' };
  log.append(productStream, 'ProductListed', listedData);
  log.append('product-MUG-1', 'ProductListed', mug);
  log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 10 });
  log.append('inventory-MUG-1', 'StockReceived', { sku: 'MUG-1', receiptId: 'r1', quantity: 5 });
  log.append(inventoryStream, 'StockReserved', { sku: SKU, orderId: ORDER, quantity: 2, expiresAt });
  log.append('inventory-MUG-1', 'StockReserved', { sku: 'MUG-1', orderId: ORDER, quantity: 1, expiresAt });
  log.append(orderStream, 'OrderPlaced', placedData);
  log.append(productStream, 'PriceChanged', { sku: SKU, priceCents: 3499, previousPriceCents: 2999 });
  log.append('order-ord_BBBBBBBBBBBBBBBBBBBBBBBB', 'OrderRejected', {
    orderId: 'ord_BBBBBBBBBBBBBBBBBBBBBBBB',
    customerId: 'cust-2',
    requestHash: 'hash-2',
    reason: 'out_of_stock',
    skus: ['MUG-1'],
    rejectedAt: '2025-03-01T10:01:00.000Z',
  });
  log.append(orderStream, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: '2025-03-01T10:05:00.000Z' });
  log.append(inventoryStream, 'ReservationReleased', { sku: SKU, orderId: ORDER, quantity: 2, reason: 'cancelled' });
  log.append('inventory-MUG-1', 'ReservationReleased', { sku: 'MUG-1', orderId: ORDER, quantity: 1, reason: 'cancelled' });
  log.append('inventory-MUG-1', 'StockAdjusted', { sku: 'MUG-1', adjustmentId: 'a1', delta: -1, reason: 'broken' });
  log.append(productStream, 'ProductDetailsChanged', { sku: SKU, name: 'Red Kettle XL', category: 'Kitchen', description: 'Now 2 l' });
  log.append('product-MUG-1', 'ProductDelisted', { sku: 'MUG-1' });
  // an event no projection handles still takes a position
  log.append('payment-p1', 'PaymentAuthorised', { orderId: ORDER });
  return log.events;
};

// ---- specs --------------------------------------------------------------------------------------------------------

describe('read-model projections', () => {
  describe('productsProjection', () => {
    it('lists a product', () => {
      given([])
        .when([recorded(productStream, 'ProductListed', listedData, 1)])
        .thenDocument(productsProjection, SKU, { ...listedData, listed: true, available: 0, position: 1 });
    });

    it('changes details and keeps the price', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      given(log.events)
        .when([log.append(productStream, 'ProductDetailsChanged', { sku: SKU, name: 'Kettle', category: 'Home', description: 'Boils water' })])
        .thenDocument(productsProjection, SKU, { sku: SKU, listed: true, name: 'Kettle', category: 'Home', priceCents: 2999, description: 'Boils water', available: 0, position: 2 });
    });

    it('changes the price and keeps the details', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      given(log.events)
        .when([log.append(productStream, 'PriceChanged', { sku: SKU, priceCents: 1999, previousPriceCents: 2999 })])
        .thenDocument(productsProjection, SKU, { ...listedData, listed: true, priceCents: 1999, available: 0, position: 2 });
    });

    it('delists a product, keeping its last details', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      given(log.events)
        .when([log.append(productStream, 'ProductDelisted', { sku: SKU })])
        .thenDocument(productsProjection, SKU, { ...listedData, listed: false, available: 0, position: 2 });
    });

    it('lists a delisted product again with its new details and its stock', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 3 });
      log.append(productStream, 'ProductDelisted', { sku: SKU });
      const relisted = { ...listedData, name: 'Blue Kettle', priceCents: 3999 };
      given(log.events)
        .when([log.append(productStream, 'ProductListed', relisted)])
        .thenDocument(productsProjection, SKU, { ...relisted, listed: true, received: 3, adjusted: 0, reserved: 0, sold: 0, available: 3, position: 4 } as ProductDocument);
    });

    it('derives availability from every kind of stock event', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      let docs = project(log.events);
      for (const { event, expected } of stockStory(log)) {
        docs = project([event], 1, docs);
        const product = doc(docs, productsProjection, SKU)!;
        expect(product, event.type).to.deep.equal({ ...listedData, listed: true, ...expected, position: event.position });
      }
    });

    it('keeps stock that arrived before the product was listed', () => {
      const log = new RecordedLog();
      log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 7 });
      log.append(inventoryStream, 'StockReserved', { sku: SKU, orderId: 'ord-a', quantity: 2, expiresAt });
      const unlisted = project(log.events);
      expect(doc(unlisted, productsProjection, SKU)).to.include({ listed: false, available: 5 });
      given(log.events)
        .when([log.append(productStream, 'ProductListed', listedData)])
        .thenDocument(productsProjection, SKU, { ...listedData, listed: true, received: 7, adjusted: 0, reserved: 2, sold: 0, available: 5, position: 3 } as ProductDocument);
    });

    it('ignores order events', () => {
      const then = given([]).when([recorded(orderStream, 'OrderPlaced', placedData, 1)]);
      expect(then.documents.get(productsProjection.name)?.size ?? 0).to.equal(0);
    });
  });

  describe('inventoryProjection', () => {
    it('follows received, adjusted, reserved, released and confirmed stock', () => {
      const log = new RecordedLog();
      let docs: Documents = new Map();
      for (const { event, expected } of stockStory(log)) {
        docs = project([event], 1, docs);
        expect(doc(docs, inventoryProjection, SKU), event.type).to.deep.equal({ sku: SKU, ...expected, position: event.position });
      }
    });

    it('keeps available + reserved + sold == received + adjusted after every event', () => {
      const log = new RecordedLog();
      let docs: Documents = new Map();
      for (const { event } of stockStory(log)) {
        docs = project([event], 1, docs);
        expectStockInvariant(doc(docs, inventoryProjection, SKU)!);
      }
    });

    it('shows the same availability as the product document', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      let docs = project(log.events);
      for (const { event } of stockStory(log)) {
        docs = project([event], 1, docs);
        expect(doc(docs, productsProjection, SKU)!.available, event.type).to.equal(doc(docs, inventoryProjection, SKU)!.available);
      }
    });

    it('has no document for a product without stock events', () => {
      given([])
        .when([recorded(productStream, 'ProductListed', listedData, 1)])
        .thenDocument(inventoryProjection, SKU, undefined);
    });
  });

  describe('ordersProjection', () => {
    it('records a placed order as awaiting payment', () => {
      given([])
        .when([recorded(orderStream, 'OrderPlaced', placedData, 1)])
        .thenDocument(ordersProjection, ORDER, {
          orderId: ORDER,
          customerId: CUSTOMER,
          status: 'awaiting_payment',
          lines: placedData.lines,
          totalCents: 6498,
          createdAt: placedAt,
          updatedAt: placedAt,
          expiresAt,
          position: 1,
        });
    });

    it('cancels a placed order, keeping its lines and creation time', () => {
      const log = new RecordedLog();
      log.append(orderStream, 'OrderPlaced', placedData);
      given(log.events)
        .when([log.append(orderStream, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: '2025-03-01T10:05:00.000Z' })])
        .thenDocument(ordersProjection, ORDER, {
          orderId: ORDER,
          customerId: CUSTOMER,
          status: 'cancelled',
          lines: placedData.lines,
          totalCents: 6498,
          createdAt: placedAt,
          updatedAt: '2025-03-01T10:05:00.000Z',
          expiresAt,
          position: 2,
        });
    });

    it('records a rejected order without lines', () => {
      const rejectedAt = '2025-03-01T10:00:05.000Z';
      given([])
        .when([recorded(orderStream, 'OrderRejected', { orderId: ORDER, customerId: CUSTOMER, requestHash: 'hash-1', reason: 'out_of_stock', skus: [SKU], rejectedAt }, 1)])
        .thenDocument(ordersProjection, ORDER, {
          orderId: ORDER,
          customerId: CUSTOMER,
          status: 'rejected',
          lines: [],
          totalCents: 0,
          createdAt: rejectedAt,
          updatedAt: rejectedAt,
          position: 1,
        });
    });

    it('replaces a rejection with the order placed by a retry', () => {
      const log = new RecordedLog();
      log.append(orderStream, 'OrderRejected', { orderId: ORDER, customerId: CUSTOMER, requestHash: 'hash-1', reason: 'out_of_stock', skus: [SKU], rejectedAt: '2025-03-01T09:59:00.000Z' });
      given(log.events)
        .when([log.append(orderStream, 'OrderPlaced', placedData)])
        .thenDocument(ordersProjection, ORDER, {
          orderId: ORDER,
          customerId: CUSTOMER,
          status: 'awaiting_payment',
          lines: placedData.lines,
          totalCents: 6498,
          createdAt: placedAt,
          updatedAt: placedAt,
          expiresAt,
          position: 2,
        });
    });

    it('leaves no document for a cancellation of an order it never saw', () => {
      const then = given([]).when([recorded(orderStream, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: placedAt }, 1)]);
      then.thenDocument(ordersProjection, ORDER, undefined);
      then.thenNoChange();
    });
  });

  describe('customerOrdersProjection', () => {
    const rowId = customerOrdersProjection.idFor(CUSTOMER, ORDER);

    it('adds a row for a placed order under the customer', () => {
      given([])
        .when([recorded(orderStream, 'OrderPlaced', placedData, 1)])
        .thenDocument(customerOrdersProjection, rowId, { customerId: CUSTOMER, orderId: ORDER, status: 'awaiting_payment', totalCents: 6498, createdAt: placedAt, position: 1 });
    });

    it('marks the row cancelled, keeping its creation time', () => {
      const log = new RecordedLog();
      log.append(orderStream, 'OrderPlaced', placedData);
      given(log.events)
        .when([log.append(orderStream, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: '2025-03-01T10:05:00.000Z' })])
        .thenDocument(customerOrdersProjection, rowId, { customerId: CUSTOMER, orderId: ORDER, status: 'cancelled', totalCents: 6498, createdAt: placedAt, position: 2 });
    });

    it('adds a row for a rejected order', () => {
      const rejectedAt = '2025-03-01T10:00:05.000Z';
      given([])
        .when([recorded(orderStream, 'OrderRejected', { orderId: ORDER, customerId: CUSTOMER, requestHash: 'hash-1', reason: 'out_of_stock', skus: [SKU], rejectedAt }, 1)])
        .thenDocument(customerOrdersProjection, rowId, { customerId: CUSTOMER, orderId: ORDER, status: 'rejected', totalCents: 0, createdAt: rejectedAt, position: 1 });
    });

    it('keeps one row per customer and order', () => {
      const other = { ...placedData, orderId: 'ord_CCCCCCCCCCCCCCCCCCCCCCCC', customerId: 'cust-2', totalCents: 500 };
      const log = new RecordedLog();
      const then = given([]).when([log.append(orderStream, 'OrderPlaced', placedData), log.append(`order-${other.orderId}`, 'OrderPlaced', other)]);
      expect([...then.documents.get(customerOrdersProjection.name)!.keys()].sort()).to.deep.equal([rowId, customerOrdersProjection.idFor('cust-2', other.orderId)].sort());
      then.thenDocument(customerOrdersProjection, customerOrdersProjection.idFor('cust-2', other.orderId), {
        customerId: 'cust-2',
        orderId: other.orderId,
        status: 'awaiting_payment',
        totalCents: 500,
        createdAt: placedAt,
        position: 2,
      });
    });
  });

  describe('the position guard', () => {
    it('ignores a duplicate delivery: same document, position unchanged', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      const priceChanged = log.append(productStream, 'PriceChanged', { sku: SKU, priceCents: 1999, previousPriceCents: 2999 });
      const before = project(log.events);
      const then = given(log.events).when([redelivered(priceChanged)]);
      then.thenNoChange();
      then.thenDocument(productsProjection, SKU, doc(before, productsProjection, SKU));
      expect(doc(then.documents, productsProjection, SKU)!.position).to.equal(priceChanged.position);
    });

    it('counts redelivered stock only once', () => {
      const log = new RecordedLog();
      const received = log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 10 });
      const reserved = log.append(inventoryStream, 'StockReserved', { sku: SKU, orderId: 'ord-a', quantity: 4, expiresAt });
      const then = given(log.events).when([redelivered(received), redelivered(reserved)]);
      then.thenNoChange();
      then.thenDocument(inventoryProjection, SKU, { sku: SKU, received: 10, adjusted: 0, reserved: 4, sold: 0, available: 6, position: 2 });
      expect(doc(then.documents, productsProjection, SKU)!.available).to.equal(6);
    });

    it('applies an event delivered twice within one batch once', () => {
      const received = recorded(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 10 }, 1);
      given([])
        .when([received, redelivered(received)])
        .thenDocument(inventoryProjection, SKU, { sku: SKU, received: 10, adjusted: 0, reserved: 0, sold: 0, available: 10, position: 1 });
    });

    it('ignores an older event delivered after a newer one', () => {
      const listed = recorded(productStream, 'ProductListed', listedData, 1);
      const older = recorded(productStream, 'PriceChanged', { sku: SKU, priceCents: 1000, previousPriceCents: 2999 }, 2, 1);
      const newer = recorded(productStream, 'PriceChanged', { sku: SKU, priceCents: 1500, previousPriceCents: 1000 }, 3, 2);
      const then = given([listed, newer]).when([older]);
      then.thenNoChange();
      then.thenDocument(productsProjection, SKU, { ...listedData, listed: true, priceCents: 1500, available: 0, position: 3 });
    });

    it('ignores an event at the document position even when its content differs', () => {
      const listed = recorded(productStream, 'ProductListed', listedData, 5);
      const samePosition = recorded(productStream, 'ProductDelisted', { sku: SKU }, 5, 1);
      given([listed]).when([samePosition]).thenNoChange();
    });

    it('ignores an older stock event on a product that a newer product event already moved on', () => {
      const log = new RecordedLog();
      log.append(productStream, 'ProductListed', listedData);
      const received = log.append(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 10 });
      log.append(productStream, 'PriceChanged', { sku: SKU, priceCents: 1999, previousPriceCents: 2999 });
      const then = given(log.events).when([redelivered(received)]);
      then.thenNoChange();
      expect(doc(then.documents, productsProjection, SKU)).to.include({ available: 10, priceCents: 1999, position: 3 });
    });

    it('ignores a redelivered order cancellation and placement', () => {
      const log = new RecordedLog();
      const placed = log.append(orderStream, 'OrderPlaced', placedData);
      const cancelled = log.append(orderStream, 'OrderCancelled', { orderId: ORDER, customerId: CUSTOMER, cancelledAt: '2025-03-01T10:05:00.000Z' });
      const then = given(log.events).when([redelivered(placed), redelivered(cancelled)]);
      then.thenNoChange();
      expect(doc(then.documents, ordersProjection, ORDER)).to.include({ status: 'cancelled', position: 2 });
      expect(doc(then.documents, customerOrdersProjection, customerOrdersProjection.idFor(CUSTOMER, ORDER))).to.include({ status: 'cancelled', position: 2 });
    });

    it('returns the document itself from applyGuarded when nothing changes', () => {
      const listed = recorded(productStream, 'ProductListed', listedData, 1);
      const first = applyGuarded(productsProjection, undefined, listed, SKU);
      expect(applyGuarded(productsProjection, first, listed, SKU)).to.equal(first);
    });
  });

  describe('replay', () => {
    const events = wholeLog();
    const expected = project(events);

    it('builds the documents a shop day should leave', () => {
      expect(doc(expected, productsProjection, SKU)).to.deep.equal({
        sku: SKU,
        listed: true,
        name: 'Red Kettle XL',
        category: 'Kitchen',
        priceCents: 3499,
        description: 'Now 2 l',
        received: 10,
        adjusted: 0,
        reserved: 0,
        sold: 0,
        available: 10,
        position: 14,
      } as ProductDocument);
      expect(doc(expected, productsProjection, 'MUG-1')).to.include({ listed: false, available: 4, position: 15 });
      expect(doc<InventoryDocument>(expected, inventoryProjection, 'MUG-1')).to.deep.equal({ sku: 'MUG-1', received: 5, adjusted: -1, reserved: 0, sold: 0, available: 4, position: 13 });
      expect(doc<OrderDocument>(expected, ordersProjection, ORDER)).to.include({ status: 'cancelled', position: 10 });
      expect(doc<OrderDocument>(expected, ordersProjection, 'ord_BBBBBBBBBBBBBBBBBBBBBBBB')).to.include({ status: 'rejected', customerId: 'cust-2' });
      expect(doc<CustomerOrderDocument>(expected, customerOrdersProjection, customerOrdersProjection.idFor(CUSTOMER, ORDER))).to.include({ status: 'cancelled', totalCents: 6498 });
    });

    for (const batchSize of [1, 2, 3, 7]) {
      it(`gives the same documents folded in batches of ${batchSize}`, () => {
        expect(project(events, batchSize)).to.deep.equal(expected);
      });
    }

    it('gives the same documents folded one event at a time with applyGuarded', () => {
      expect(projectOneByOne(events)).to.deep.equal(expected);
    });

    it('changes nothing when the whole log is delivered again over the built documents', () => {
      const docs = copyOf(expected);
      const changes = applyBatch(docs, events.map(redelivered));
      expect(changes).to.deep.equal([]);
      expect(docs).to.deep.equal(expected);
    });

    it('gives the same documents when a crash replays from an earlier checkpoint', () => {
      // the first 9 events were applied, the checkpoint said 5: events 6-9 arrive a second time
      const docs = project(events.slice(0, 9));
      project(events.slice(5), 4, docs);
      expect(docs).to.deep.equal(expected);
    });
  });

  describe('listingChanged', () => {
    const product: ProductDocument = { ...listedData, listed: true, available: 3, position: 7 };

    it('is false when there is no document before or after', () => {
      expect(listingChanged(undefined, undefined)).to.equal(false);
    });

    it('is true when a document appears or disappears', () => {
      expect(listingChanged(undefined, product)).to.equal(true);
      expect(listingChanged(product, undefined)).to.equal(true);
    });

    it('is false when only availability and position change', () => {
      expect(listingChanged(product, { ...product, available: 0, position: 8 })).to.equal(false);
    });

    for (const [field, value] of [
      ['listed', false],
      ['name', 'Other'],
      ['category', 'Other'],
      ['priceCents', 1],
      ['description', 'Other'],
    ] as const) {
      it(`is true when ${field} changes`, () => {
        expect(listingChanged(product, { ...product, [field]: value })).to.equal(true);
      });
    }

    it('is false for a stock event folded into a listed product', () => {
      const listed = recorded(productStream, 'ProductListed', listedData, 1);
      const before = productsProjection.evolve(undefined, listed, SKU);
      const after = productsProjection.evolve(before, recorded(inventoryStream, 'StockReceived', { sku: SKU, receiptId: 'r1', quantity: 5 }, 2), SKU);
      expect(after!.available).to.equal(5);
      expect(listingChanged(before, after)).to.equal(false);
    });

    it('is true for a price change folded into a listed product', () => {
      const before = productsProjection.evolve(undefined, recorded(productStream, 'ProductListed', listedData, 1), SKU);
      const after = productsProjection.evolve(before, recorded(productStream, 'PriceChanged', { sku: SKU, priceCents: 1, previousPriceCents: 2999 }, 2, 1), SKU);
      expect(listingChanged(before, after)).to.equal(true);
    });
  });
});
