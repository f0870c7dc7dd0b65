import {
  MongoBulkWriteError,
  type AnyBulkWriteOperation,
  type Collection,
  type Db,
  type Document,
  type Filter,
} from 'mongodb';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { documentsTouched, foldBatch } from '../../projections/fold-batch';
import type { PositionedDocument, Projection } from '../../projections/projection';
import type { DocumentChange, ReadModelStore } from '../../projections/ports';
import type { CustomerOrderDocument, InventoryDocument, OrderDocument, ProductDocument } from '../../projections/read-models';
import type { BrowseCursor, BrowseQuery, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries, Page } from '../../read-api/ports';

const DUPLICATE_KEY = 11000;
const FERRETDB_MAX_UPDATES_PER_COMMAND = 20;

/** The server behind the MongoDB wire protocol, as its `buildInfo` tells it. */
export type MongoServerKind = 'mongodb' | 'ferretdb';

export const mongoServerKind = (buildInfo: Document): MongoServerKind => (buildInfo.ferretdbVersion !== undefined ? 'ferretdb' : 'mongodb');

const isOnlyDuplicateKeys = (error: unknown): boolean => {
  if (!(error instanceof MongoBulkWriteError) || !error.writeErrors) return false;
  const errors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
  return errors.length > 0 && errors.every((e) => e.code === DUPLICATE_KEY);
};

/** The read models' server cannot be reached (down, restarting, connection lost): the read may be retried (503). */
export class ReadModelsUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(override readonly cause: unknown) {
    super(`The read models cannot be reached: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ReadModelsUnavailableError';
  }
}

/**
 * Runs a read: whatever the driver call throws becomes `ReadModelsUnavailableError` (503, counted by the breaker), never
 * a 500. The reads are Crest's own queries, so a failing one means the store cannot answer now: FerretDB answers with
 * command errors for a moment while it starts again, and a CI run once met a 500 on a read there whose error was not a
 * MongoError (the cause is logged with the 503).
 */
const reading = async <T>(read: () => Promise<T>): Promise<T> => {
  try {
    return await read();
  } catch (error) {
    throw new ReadModelsUnavailableError(error);
  }
};

type Stored = PositionedDocument & { _id: string; sortName?: string; searchText?: string };

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Fields the Mongo adapter adds for its own queries; they never leave it. */
const strip = <T>(doc: Document | null): T | undefined => {
  if (!doc) return undefined;
  const { _id: _ignored, sortName: _s, searchText: _t, ...rest } = doc;
  return rest as T;
};

const withQueryFields = (collection: string, doc: PositionedDocument): PositionedDocument => {
  if (collection !== 'products') return doc;
  const p = doc as ProductDocument;
  return { ...p, sortName: p.name.toLowerCase(), searchText: `${p.name} ${p.category} ${p.description}`.toLowerCase() } as PositionedDocument;
};

/**
 * Read models in MongoDB (or FerretDB). A batch is folded in memory over the documents it touches (read with one
 * `$in` per collection), then written per collection: documents the batch did not find are inserted, known ones are
 * replaced under a position guard (a write only lands on an older version, and is a no-op otherwise), and deletes carry
 * the same guard. The runner's checkpoint is written after the batch, so a crash in between re-applies a batch that
 * the guard turns into no-ops.
 */
export class MongoReadModels implements ReadModelStore, CatalogueQueries, OrderQueries, InventoryQueries {
  private readonly maxUpdatesPerCommand: number;
  /** FerretDB 1.x uses the `_id` index only for a filter that is exactly `{_id}`: reads and writes take that shape there. */
  private readonly exactIdOnly: boolean;

  /**
   * @param server FerretDB 1.x holds one SQLite connection per matched update until the whole `update` command ends,
   *   from a pool of 100, so a command replacing more than 100 existing documents waits forever: it gets small ones.
   */
  constructor(
    private readonly db: Db,
    server: MongoServerKind = 'mongodb',
  ) {
    this.maxUpdatesPerCommand = server === 'ferretdb' ? FERRETDB_MAX_UPDATES_PER_COMMAND : 1000;
    this.exactIdOnly = server === 'ferretdb';
  }

  /** Creates the indexes the queries need. Safe to call on every start. */
  async ensureIndexes(): Promise<void> {
    const products = this.db.collection('products');
    await products.createIndex({ listed: 1, category: 1, priceCents: 1, sku: 1 });
    await products.createIndex({ listed: 1, priceCents: 1, sku: 1 });
    await products.createIndex({ listed: 1, sortName: 1, sku: 1 });
    await this.db.collection('customer_orders').createIndex({ customerId: 1, createdAt: -1, orderId: 1 });
  }

  async applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    let changes: DocumentChange[] = [];
    if (events.length > 0) {
      const loaded = new Map<string, Map<string, PositionedDocument>>();
      for (const [collection, ids] of documentsTouched(projections, events)) {
        const docs = await this.load(collection, [...ids]);
        loaded.set(collection, new Map(docs.map((d) => [d._id, strip<PositionedDocument>(d)!])));
      }
      changes = foldBatch(projections, events, (collection, id) => loaded.get(collection)?.get(id));
      const byCollection = new Map<string, DocumentChange[]>();
      for (const change of changes) byCollection.set(change.collection, [...(byCollection.get(change.collection) ?? []), change]);
      for (const [collection, collectionChanges] of byCollection) await this.write(collection, collectionChanges);
    }
    await this.db.collection<{ _id: string; position: number }>('checkpoints').updateOne({ _id: runner }, { $max: { position } }, { upsert: true });
    return changes;
  }

  async loadCheckpoint(runner: string): Promise<number | undefined> {
    const doc = await this.db.collection<{ _id: string; position: number }>('checkpoints').findOne({ _id: runner });
    return doc?.position;
  }

  async reset(runner: string, projections: readonly Projection[]): Promise<void> {
    for (const p of projections) await this.collection(p.name).deleteMany({});
    await this.db.collection<{ _id: string }>('checkpoints').deleteOne({ _id: runner });
  }

  async product(sku: string): Promise<ProductDocument | undefined> {
    return strip<ProductDocument>(await reading(() => this.collection('products').findOne({ _id: sku })));
  }

  async inventory(sku: string): Promise<InventoryDocument | undefined> {
    return strip<InventoryDocument>(await reading(() => this.collection('inventory').findOne({ _id: sku })));
  }

  async order(orderId: string): Promise<OrderDocument | undefined> {
    return strip<OrderDocument>(await reading(() => this.collection('orders').findOne({ _id: orderId })));
  }

  browse(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>> {
    return reading(() => this.browseNow(query));
  }

  customerOrders(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>> {
    return reading(() => this.customerOrdersNow(customerId, limit, after));
  }

  private async browseNow(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>> {
    const and: Document[] = [{ listed: true }];
    if (query.category !== undefined) and.push({ category: query.category });
    if (query.minPrice !== undefined) and.push({ priceCents: { $gte: query.minPrice } });
    if (query.maxPrice !== undefined) and.push({ priceCents: { $lte: query.maxPrice } });
    // the same "every term, anywhere, any case" semantics as the embedded read model, rather than $text's stemming
    for (const term of (query.text ?? '').toLowerCase().split(/\s+/).filter(Boolean)) and.push({ searchText: { $regex: escapeRegex(term) } });
    const field = query.sort === 'name' ? 'sortName' : 'priceCents';
    const direction = query.sort === '-price' ? -1 : 1;
    if (query.after) {
      const { key, sku } = query.after;
      and.push({ $or: [{ [field]: { [direction === 1 ? '$gt' : '$lt']: key } }, { [field]: key, sku: { $gt: sku } }] });
    }
    const docs = await this.collection('products')
      .find({ $and: and })
      .sort({ [field]: direction, sku: 1 })
      .limit(query.limit + 1)
      .toArray();
    const items = docs.slice(0, query.limit).map((d) => strip<ProductDocument>(d)!);
    const last = docs.length > query.limit ? (docs[query.limit - 1] as Document) : undefined;
    return { items, next: last ? { key: last[field] as string | number, sku: last.sku as string } : undefined };
  }

  private async customerOrdersNow(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>> {
    const filter: Document = { customerId };
    if (after) filter.$or = [{ createdAt: { $lt: after.createdAt } }, { createdAt: after.createdAt, orderId: { $gt: after.orderId } }];
    const docs = await this.collection('customer_orders').find(filter).sort({ createdAt: -1, orderId: 1 }).limit(limit + 1).toArray();
    const items = docs.slice(0, limit).map((d) => strip<CustomerOrderDocument>(d)!);
    const last = items[items.length - 1];
    return { items, next: docs.length > limit && last ? { createdAt: last.createdAt, orderId: last.orderId } : undefined };
  }

  /** The stored versions of `ids`, in one `$in`. */
  private load(collection: string, ids: readonly string[]): Promise<Stored[]> {
    return this.collection(collection)
      .find({ _id: { $in: [...ids] } } as Filter<Stored>)
      .toArray();
  }

  /**
   * New documents are inserted in one command (E11000 means another writer got there first: those inserts are retried
   * as guarded replaces); known ones are replaced only while older, in commands of at most `maxUpdatesPerCommand`.
   */
  private async write(collection: string, changes: readonly DocumentChange[]): Promise<void> {
    const target = this.collection(collection);
    const stored = (change: DocumentChange): Stored => ({ ...withQueryFields(change.collection, change.after!), _id: change.id }) as Stored;
    const guardedReplace = (doc: Stored): AnyBulkWriteOperation<Stored> => ({
      replaceOne: { filter: { _id: doc._id, position: { $lt: doc.position } } as Filter<Stored>, replacement: doc },
    });
    // On FerretDB a filter with the position in it scans the whole collection, so a write there costs more the more
    // documents there are. There the guard is the batch's own read: `before` is what was stored when the batch began,
    // and the fold made `after` newer. That holds with one projection worker per read-model set (the default); two
    // at once could put back an older version on FerretDB, which MongoDB's server-side guard prevents.
    const knownReplace = (doc: Stored): AnyBulkWriteOperation<Stored> =>
      this.exactIdOnly ? { replaceOne: { filter: { _id: doc._id } as Filter<Stored>, replacement: doc } } : guardedReplace(doc);
    const inserts = changes.filter((c) => c.after && !c.before).map(stored);
    const updates = changes.filter((c) => c.after && c.before).map((c) => knownReplace(stored(c)));
    const deletes: AnyBulkWriteOperation<Stored>[] = changes
      .filter((c) => !c.after && c.before)
      .map((c) => ({ deleteOne: { filter: (this.exactIdOnly ? { _id: c.id } : { _id: c.id, position: { $lte: c.before!.position } }) as Filter<Stored> } }));
    if (inserts.length > 0) {
      try {
        await target.insertMany(inserts, { ordered: false });
      } catch (error) {
        if (!isOnlyDuplicateKeys(error)) throw error;
        // some servers report only the first failed insert, so every insert is retried; the guard skips our own
        updates.push(...inserts.map(guardedReplace));
      }
    }
    for (let i = 0; i < updates.length; i += this.maxUpdatesPerCommand) {
      await target.bulkWrite(updates.slice(i, i + this.maxUpdatesPerCommand), { ordered: false });
    }
    if (deletes.length > 0) await target.bulkWrite(deletes, { ordered: false });
  }

  private collection(name: string): Collection<Stored> {
    return this.db.collection<Stored>(name);
  }
}
