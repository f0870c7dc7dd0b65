import type { StockFigures } from '../domain/inventory/inventory';
import { createHash } from 'node:crypto';
import type { DocumentChange } from '../projections/ports';
import { listingChanged, type InventoryDocument, type OrderDocument, type ProductDocument } from '../projections/read-models';
import type { LastKnownGood } from './cache/last-known-good';
import type { ReadCache, Served } from './cache/read-cache';
import type { BrowseCursor, BrowseQuery, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries, ReadModelProgress } from './ports';

/** A rendered response body with the validator that goes with it. */
export interface Rendered {
  readonly body: string;
  readonly etag: string;
}

export class InvalidCursorError extends Error {
  readonly code = 'validation_failed';
  constructor() {
    super('The cursor is malformed; use nextCursor from a previous page as it is');
    this.name = 'InvalidCursorError';
  }
}

const encodeCursor = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

const decodeCursor = <T>(cursor: string, valid: (v: unknown) => v is T): T => {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (valid(value)) return value;
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
};

const isBrowseCursor = (v: unknown): v is BrowseCursor =>
  typeof v === 'object' && v !== null && typeof (v as BrowseCursor).sku === 'string' && ['string', 'number'].includes(typeof (v as BrowseCursor).key);

const isOrdersCursor = (v: unknown): v is CustomerOrdersCursor =>
  typeof v === 'object' && v !== null && typeof (v as CustomerOrdersCursor).createdAt === 'string' && typeof (v as CustomerOrdersCursor).orderId === 'string';

const productCard = (d: ProductDocument) => ({
  sku: d.sku,
  name: d.name,
  category: d.category,
  priceCents: d.priceCents,
  description: d.description,
  available: d.available,
  soldOut: d.available <= 0,
});

const browseItem = (d: ProductDocument) => ({ sku: d.sku, name: d.name, category: d.category, priceCents: d.priceCents, available: d.available, soldOut: d.available <= 0 });

const etagOf = (body: string): string => `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;

/** Cache entries to mark stale: product cards by SKU, and whether browse pages are affected. */
export interface Invalidation {
  readonly cards: readonly string[];
  readonly browse: boolean;
}

export interface BrowseRequest extends Omit<BrowseQuery, 'after'> {
  readonly cursor?: string | undefined;
}

export interface CustomerOrdersView {
  readonly items: Array<{ orderId: string; status: string; totalCents: number; createdAt: string }>;
  readonly nextCursor: string | null;
}

export type InventoryView = { readonly sku: string } & StockFigures;

/** The last answers of the uncached reads, served (stale) when the read models are unavailable. */
export interface StaleFallbacks {
  readonly orders: LastKnownGood<OrderDocument>;
  readonly customerOrders: LastKnownGood<CustomerOrdersView>;
  readonly inventory: LastKnownGood<InventoryDocument>;
}

const fresh = <T>(value: T): Served<T> => ({ value, stale: false });

/**
 * The storefront read side: product cards and browse pages through the read cache, orders and inventory straight
 * from the read models. Projection changes invalidate the cache entries they affect. Every answer says whether it is
 * stale: served from what was last read because the read models are unavailable (cards and pages from the cache past
 * their TTL; orders and inventory from `fallbacks`, when given).
 */
export class Storefront {
  constructor(
    private readonly catalogue: CatalogueQueries,
    private readonly orders: OrderQueries,
    private readonly inventoryQueries: InventoryQueries,
    readonly progress: ReadModelProgress,
    private readonly cards: ReadCache<Rendered>,
    private readonly pages: ReadCache<Rendered>,
    private readonly fallbacks?: StaleFallbacks,
  ) {}

  /** A listed product's card, or undefined when it is unknown or delisted. */
  productCard(sku: string, minPosition?: number): Promise<Served<Rendered | undefined>> {
    return this.cards.read(
      sku,
      async () => {
        const doc = await this.catalogue.product(sku);
        if (!doc || !doc.listed) return undefined;
        const body = JSON.stringify(productCard(doc));
        return { body, etag: etagOf(body) };
      },
      () => this.progress.position,
      minPosition,
    );
  }

  async browse(request: BrowseRequest, minPosition?: number): Promise<Served<Rendered>> {
    const after = request.cursor === undefined ? undefined : decodeCursor(request.cursor, isBrowseCursor);
    const key = JSON.stringify([request.category, request.text, request.minPrice, request.maxPrice, request.sort, request.limit, request.cursor]);
    const page = await this.pages.read(
      key,
      async () => {
        const result = await this.catalogue.browse({ ...request, after });
        const body = JSON.stringify({ items: result.items.map(browseItem), nextCursor: result.next ? encodeCursor(result.next) : null });
        return { body, etag: etagOf(body) };
      },
      () => this.progress.position,
      minPosition,
    );
    return { value: page.value!, stale: page.stale };
  }

  async order(orderId: string, minPosition?: number): Promise<Served<OrderDocument | undefined>> {
    const load = () => this.orders.order(orderId);
    return this.fallbacks ? this.fallbacks.orders.read(orderId, load, () => this.progress.position, minPosition) : fresh(await load());
  }

  async customerOrders(customerId: string, limit: number, cursor?: string, minPosition?: number): Promise<Served<CustomerOrdersView>> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, isOrdersCursor);
    const load = async (): Promise<CustomerOrdersView> => {
      const page = await this.orders.customerOrders(customerId, limit, after);
      return {
        items: page.items.map((o) => ({ orderId: o.orderId, status: o.status, totalCents: o.totalCents, createdAt: o.createdAt })),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      };
    };
    if (!this.fallbacks) return fresh(await load());
    const served = await this.fallbacks.customerOrders.read(JSON.stringify([customerId, limit, cursor]), load, () => this.progress.position, minPosition);
    return { value: served.value!, stale: served.stale };
  }

  async inventory(sku: string, minPosition?: number): Promise<Served<InventoryView | undefined>> {
    const load = () => this.inventoryQueries.inventory(sku);
    const { value: doc, stale } = this.fallbacks ? await this.fallbacks.inventory.read(sku, load, () => this.progress.position, minPosition) : fresh(await load());
    return { value: doc && { sku: doc.sku, received: doc.received, adjusted: doc.adjusted, available: doc.available, reserved: doc.reserved, sold: doc.sold }, stale };
  }

  /** Which cache entries a batch of read-model changes makes stale. */
  static invalidationsFor(changes: readonly DocumentChange[]): Invalidation {
    const cards: string[] = [];
    let browse = false;
    for (const change of changes) {
      if (change.collection !== 'products') continue;
      cards.push(change.id);
      if (listingChanged(change.before as ProductDocument | undefined, change.after as ProductDocument | undefined)) browse = true;
    }
    // availability alone does not invalidate browse pages: their short TTL bounds how stale it can be
    return { cards, browse };
  }

  /** Applies invalidations computed here or received from the projection worker (cluster mode). */
  invalidate(invalidation: Invalidation): void {
    for (const sku of invalidation.cards) this.cards.invalidate(sku);
    if (invalidation.browse) this.pages.invalidateAll();
  }

  /** Called with every batch of read-model changes made in this process. */
  documentsChanged(changes: readonly DocumentChange[]): void {
    this.invalidate(Storefront.invalidationsFor(changes));
  }
}
