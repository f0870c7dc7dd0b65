import type { RecordedEvent } from '../domain/kernel/event-store';
import { idOf } from '../domain/kernel/streams';
import { countStock, figuresOf, noStock, type InventoryEvent, type StockCounts, type StockFigures } from '../domain/inventory/inventory';
import type { OrderEvent, OrderLine, OrderStatus } from '../domain/order/order';
import type { ProductEvent } from '../domain/product/product';
import type { Projection } from './projection';

export interface InventoryDocument {
  readonly sku: string;
  readonly received: number;
  readonly adjusted: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
  readonly position: number;
}

export interface ProductDocument {
  readonly sku: string;
  readonly listed: boolean;
  readonly name: string;
  readonly category: string;
  readonly priceCents: number;
  readonly description: string;
  readonly available: number;
  readonly position: number;
}

export interface OrderDocument {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: Exclude<OrderStatus, 'pending'>;
  readonly lines: readonly OrderLine[];
  readonly totalCents: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt?: string;
  readonly position: number;
}

/** One row per (customer, order): the index behind "my orders", newest first. */
export interface CustomerOrderDocument {
  readonly customerId: string;
  readonly orderId: string;
  readonly status: Exclude<OrderStatus, 'pending'>;
  readonly totalCents: number;
  readonly createdAt: string;
  readonly position: number;
}

/** Fields that decide whether and where a product appears in browse results; availability alone does not. */
export const listingChanged = (before: ProductDocument | undefined, after: ProductDocument | undefined): boolean =>
  before?.listed !== after?.listed ||
  before?.name !== after?.name ||
  before?.priceCents !== after?.priceCents ||
  before?.category !== after?.category ||
  before?.description !== after?.description;

const productEventTypes = ['ProductListed', 'ProductDetailsChanged', 'PriceChanged', 'ProductDelisted'] as const;
const inventoryEventTypes = ['StockReceived', 'StockAdjusted', 'StockReserved', 'ReservationReleased', 'ReservationConfirmed'] as const;
const orderEventTypes = ['OrderPlaced', 'OrderRejected', 'OrderCancelled', 'OrderConfirmed', 'OrderPaymentFailed', 'OrderExpired'] as const;

/** The status and time an order event moves an existing order to; undefined for events that create one. */
const statusChange = (event: OrderEvent): { status: OrderDocument['status']; at: string } | undefined => {
  switch (event.type) {
    case 'OrderCancelled':
      return { status: 'cancelled', at: event.data.cancelledAt };
    case 'OrderConfirmed':
      return { status: 'confirmed', at: event.data.confirmedAt };
    case 'OrderPaymentFailed':
      return { status: 'payment_failed', at: event.data.failedAt };
    case 'OrderExpired':
      return { status: 'expired', at: event.data.expiredAt };
    default:
      return undefined;
  }
};

// a recorded event carries `type` and `data` itself: a cast, not a copy per event on replays of millions
const asInventoryEvent = (e: RecordedEvent) => e as unknown as InventoryEvent;
const asProductEvent = (e: RecordedEvent) => e as unknown as ProductEvent;
const asOrderEvent = (e: RecordedEvent) => e as unknown as OrderEvent;

/** Stock figures change the same way in every read model that shows them. */
const nextStock = (stock: Partial<StockCounts>, event: InventoryEvent): StockFigures =>
  figuresOf(countStock({ received: stock.received ?? 0, adjusted: stock.adjusted ?? 0, reserved: stock.reserved ?? 0, sold: stock.sold ?? 0 }, event));

export const inventoryProjection: Projection<InventoryDocument> = {
  name: 'inventory',
  eventTypes: new Set(inventoryEventTypes),
  documentIds: (e) => [idOf(e.streamId)],
  evolve: (doc, e, sku) => ({ sku, ...nextStock(doc ?? noStock, asInventoryEvent(e)), position: e.position }),
};

/** The browse and product-card model: catalogue facts plus live availability. */
export const productsProjection: Projection<ProductDocument> = {
  name: 'products',
  eventTypes: new Set([...productEventTypes, ...inventoryEventTypes]),
  documentIds: (e) => [idOf(e.streamId)],
  evolve: (doc, e, sku) => {
    const current: ProductDocument & { received?: number } = doc ?? { sku, listed: false, name: '', category: '', priceCents: 0, description: '', available: 0, position: 0 };
    if (e.streamId.startsWith('inventory-')) {
      // products carry the stock counters beside `available`, so availability is derived as in the inventory view
      return { ...current, ...nextStock(current as Partial<StockCounts>, asInventoryEvent(e)), position: e.position };
    }
    const event = asProductEvent(e);
    switch (event.type) {
      case 'ProductListed':
        return { ...current, listed: true, name: event.data.name, category: event.data.category, priceCents: event.data.priceCents, description: event.data.description, position: e.position };
      case 'ProductDetailsChanged':
        return { ...current, name: event.data.name, category: event.data.category, description: event.data.description, position: e.position };
      case 'PriceChanged':
        return { ...current, priceCents: event.data.priceCents, position: e.position };
      case 'ProductDelisted':
        return { ...current, listed: false, position: e.position };
    }
  },
};

export const ordersProjection: Projection<OrderDocument> = {
  name: 'orders',
  eventTypes: new Set(orderEventTypes),
  documentIds: (e) => [idOf(e.streamId)],
  evolve: (doc, e) => {
    const event = asOrderEvent(e);
    switch (event.type) {
      case 'OrderPlaced': {
        const d = event.data;
        return {
          orderId: d.orderId,
          customerId: d.customerId,
          status: 'awaiting_payment',
          lines: d.lines,
          totalCents: d.totalCents,
          createdAt: d.placedAt,
          updatedAt: d.placedAt,
          expiresAt: d.expiresAt,
          position: e.position,
        };
      }
      case 'OrderRejected':
        return {
          orderId: event.data.orderId,
          customerId: event.data.customerId,
          status: 'rejected',
          lines: doc?.lines ?? [],
          totalCents: doc?.totalCents ?? 0,
          createdAt: doc?.createdAt ?? event.data.rejectedAt,
          updatedAt: event.data.rejectedAt,
          position: e.position,
        };
      default: {
        const change = statusChange(event);
        return doc && change ? { ...doc, status: change.status, updatedAt: change.at, position: e.position } : doc;
      }
    }
  },
};

const customerOrderId = (customerId: string, orderId: string): string => `${customerId}/${orderId}`;

export const customerOrdersProjection: Projection<CustomerOrderDocument> & { idFor: typeof customerOrderId } = {
  name: 'customer_orders',
  eventTypes: new Set(orderEventTypes),
  idFor: customerOrderId,
  // the customer is in OrderPlaced/OrderRejected; later events reach the row through its order id, which the adapter resolves
  documentIds: (e) => {
    const data = e.data as { customerId?: string; orderId: string };
    return data.customerId ? [customerOrderId(data.customerId, data.orderId)] : [];
  },
  evolve: (doc, e) => {
    const event = asOrderEvent(e);
    switch (event.type) {
      case 'OrderPlaced':
        return { customerId: event.data.customerId, orderId: event.data.orderId, status: 'awaiting_payment', totalCents: event.data.totalCents, createdAt: event.data.placedAt, position: e.position };
      case 'OrderRejected':
        return { customerId: event.data.customerId, orderId: event.data.orderId, status: 'rejected', totalCents: doc?.totalCents ?? 0, createdAt: doc?.createdAt ?? event.data.rejectedAt, position: e.position };
      default: {
        const change = statusChange(event);
        return doc && change ? { ...doc, status: change.status, position: e.position } : doc;
      }
    }
  },
};
