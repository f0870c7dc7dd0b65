import type { CustomerOrderDocument, InventoryDocument, OrderDocument, ProductDocument } from '../projections/read-models';

export type BrowseSort = 'price' | '-price' | 'name';

/** Position in a sorted listing: the sort key and SKU of the last item already returned. */
export interface BrowseCursor {
  readonly key: string | number;
  readonly sku: string;
}

export interface BrowseQuery {
  readonly category?: string | undefined;
  /** Every whitespace-separated term must appear in the name, category or description (case-insensitive). */
  readonly text?: string | undefined;
  readonly minPrice?: number | undefined;
  readonly maxPrice?: number | undefined;
  readonly sort: BrowseSort;
  readonly limit: number;
  readonly after?: BrowseCursor | undefined;
}

export interface Page<T, C> {
  readonly items: readonly T[];
  /** Present when more items may follow. */
  readonly next: C | undefined;
}

export interface CustomerOrdersCursor {
  readonly createdAt: string;
  readonly orderId: string;
}

/** The storefront's queries over the read models; each adapter (memory, MongoDB) answers them. */
export interface CatalogueQueries {
  product(sku: string): Promise<ProductDocument | undefined>;
  /** Listed products only. */
  browse(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>>;
}

export interface OrderQueries {
  order(orderId: string): Promise<OrderDocument | undefined>;
  /** Newest first. */
  customerOrders(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>>;
}

export interface InventoryQueries {
  inventory(sku: string): Promise<InventoryDocument | undefined>;
}

/** How far the read models serving this process have got in the global log. */
export interface ReadModelProgress {
  readonly position: number;
  ready(): boolean;
  /** Resolves true once every read model has passed `position`, false after `timeoutMs`. */
  waitFor(position: number, timeoutMs: number): Promise<boolean>;
}

/**
 * A shared cache tier below the in-process L1 (Redis in cluster mode). Values are opaque strings; a tier that
 * is down must fail fast so that reads fall through to the read models.
 */
export interface SharedCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
}

/** Carries cache invalidations from the process that runs projections to every API node (cluster mode). */
export interface InvalidationBus {
  publish(invalidation: { readonly cards: readonly string[]; readonly browse: boolean }): Promise<void>;
  /** Resolves once subscribed; the returned function unsubscribes. */
  subscribe(handler: (invalidation: { readonly cards: readonly string[]; readonly browse: boolean }) => void): Promise<() => Promise<void>>;
}

/** A flash sale as clients see it: `status` is judged by the server's clock when asked. */
export interface SaleView {
  readonly saleId: string;
  readonly sku: string;
  readonly priceCents: number;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly perCustomerLimit: number;
  readonly status: 'scheduled' | 'live' | 'ended' | 'cancelled';
}

/** The sales, for the sale routes and the product card. */
export interface SaleQueries {
  get(saleId: string): SaleView | undefined;
  /** Ordered by `startsAt`, then sale id; `after` is the last sale id of the previous page. */
  list(options: { status?: SaleView['status']; limit: number; after?: string }): { items: readonly SaleView[]; next: string | undefined };
  /** The SKU's current or next sale (scheduled or live), if any. */
  forSku(sku: string): SaleView | undefined;
}
