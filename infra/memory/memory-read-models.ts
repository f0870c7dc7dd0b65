import type { RecordedEvent } from '../../domain/kernel/event-store';
import { foldBatch } from '../../projections/fold-batch';
import type { PositionedDocument, Projection } from '../../projections/projection';
import type { DocumentChange, ReadModelStore } from '../../projections/ports';
import { listingChanged, type CustomerOrderDocument, type InventoryDocument, type OrderDocument, type ProductDocument } from '../../projections/read-models';
import type { BrowseCursor, BrowseQuery, BrowseSort, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries, Page } from '../../read-api/ports';

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const sortKeyOf = (doc: ProductDocument, sort: BrowseSort): string | number => (sort === 'name' ? doc.name.toLowerCase() : doc.priceCents);

const compareBy =
  (sort: BrowseSort) =>
  (a: { key: string | number; sku: string }, b: { key: string | number; sku: string }): number => {
    const byKey = typeof a.key === 'number' && typeof b.key === 'number' ? a.key - b.key : compareStrings(String(a.key), String(b.key));
    return (sort === '-price' ? -byKey : byKey) || compareStrings(a.sku, b.sku);
  };

/**
 * The embedded read models: documents in process memory, rebuilt from the log at every start.
 * Browse keeps one sorted index per sort order, rebuilt lazily only when the catalogue itself changes.
 */
export class MemoryReadModels implements ReadModelStore, CatalogueQueries, OrderQueries, InventoryQueries {
  private readonly collections = new Map<string, Map<string, PositionedDocument>>();
  private readonly checkpoints = new Map<string, number>();
  private readonly sortedIndexes = new Map<BrowseSort, Array<{ key: string | number; sku: string }>>();
  private readonly customerIndex = new Map<string, CustomerOrderDocument[]>();

  async applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    const changes = foldBatch(projections, events, (collection, id) => this.collection(collection).get(id));
    for (const change of changes) {
      const docs = this.collection(change.collection);
      if (change.after) docs.set(change.id, change.after);
      else docs.delete(change.id);
      if (change.collection === 'products' && listingChanged(change.before as ProductDocument | undefined, change.after as ProductDocument | undefined)) {
        this.sortedIndexes.clear();
      }
      if (change.collection === 'customer_orders') this.indexCustomerOrder(change.after as CustomerOrderDocument | undefined, change.before as CustomerOrderDocument | undefined);
    }
    this.checkpoints.set(runner, Math.max(position, this.checkpoints.get(runner) ?? 0));
    return changes;
  }

  async loadCheckpoint(runner: string): Promise<number | undefined> {
    return this.checkpoints.get(runner);
  }

  async reset(runner: string, projections: readonly Projection[]): Promise<void> {
    for (const p of projections) this.collections.delete(p.name);
    this.checkpoints.delete(runner);
    this.sortedIndexes.clear();
    this.customerIndex.clear();
  }

  async product(sku: string): Promise<ProductDocument | undefined> {
    return this.collection('products').get(sku) as ProductDocument | undefined;
  }

  async inventory(sku: string): Promise<InventoryDocument | undefined> {
    return this.collection('inventory').get(sku) as InventoryDocument | undefined;
  }

  async order(orderId: string): Promise<OrderDocument | undefined> {
    return this.collection('orders').get(orderId) as OrderDocument | undefined;
  }

  async browse(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>> {
    const index = this.sortedIndex(query.sort);
    const compare = compareBy(query.sort);
    let start = 0;
    if (query.after) {
      const after = query.after;
      let lo = 0;
      let hi = index.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compare(index[mid]!, after) <= 0) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const terms = (query.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    const products = this.collection('products');
    const items: ProductDocument[] = [];
    let i = start;
    for (; i < index.length && items.length < query.limit; i++) {
      const doc = products.get(index[i]!.sku) as ProductDocument;
      if (query.category !== undefined && doc.category !== query.category) continue;
      if (query.minPrice !== undefined && doc.priceCents < query.minPrice) continue;
      if (query.maxPrice !== undefined && doc.priceCents > query.maxPrice) continue;
      if (terms.length > 0) {
        const haystack = `${doc.name} ${doc.category} ${doc.description}`.toLowerCase();
        if (!terms.every((t) => haystack.includes(t))) continue;
      }
      items.push(doc);
    }
    const last = items[items.length - 1];
    const more = items.length === query.limit && i < index.length;
    return { items, next: more && last ? { key: sortKeyOf(last, query.sort), sku: last.sku } : undefined };
  }

  async customerOrders(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>> {
    const all = this.customerIndex.get(customerId) ?? [];
    const start = after ? all.findIndex((o) => o.createdAt < after.createdAt || (o.createdAt === after.createdAt && o.orderId > after.orderId)) : 0;
    const from = start < 0 ? all.length : start;
    const items = all.slice(from, from + limit);
    const last = items[items.length - 1];
    return { items, next: from + limit < all.length && last ? { createdAt: last.createdAt, orderId: last.orderId } : undefined };
  }

  private collection(name: string): Map<string, PositionedDocument> {
    let docs = this.collections.get(name);
    if (!docs) this.collections.set(name, (docs = new Map()));
    return docs;
  }

  private sortedIndex(sort: BrowseSort): Array<{ key: string | number; sku: string }> {
    let index = this.sortedIndexes.get(sort);
    if (!index) {
      index = [];
      for (const doc of this.collection('products').values() as IterableIterator<ProductDocument>) {
        if (doc.listed) index.push({ key: sortKeyOf(doc, sort), sku: doc.sku });
      }
      index.sort(compareBy(sort));
      this.sortedIndexes.set(sort, index);
    }
    return index;
  }

  /** Newest first: createdAt descending, then order id ascending; kept sorted by binary search, updated in place. */
  private indexCustomerOrder(doc: CustomerOrderDocument | undefined, before: CustomerOrderDocument | undefined): void {
    const target = doc ?? before;
    if (!target) return;
    let list = this.customerIndex.get(target.customerId);
    if (!list) this.customerIndex.set(target.customerId, (list = []));
    const at = (o: CustomerOrderDocument): number => {
      let lo = 0;
      let hi = list!.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const m = list![mid]!;
        if (m.createdAt > o.createdAt || (m.createdAt === o.createdAt && m.orderId < o.orderId)) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    if (before) {
      const i = at(before);
      if (list[i]?.orderId === before.orderId) list.splice(i, 1);
    }
    if (doc) list.splice(at(doc), 0, doc);
  }
}
