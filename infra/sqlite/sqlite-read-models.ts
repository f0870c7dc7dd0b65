import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { RecordedEvent } from '../../domain/kernel/event-store';
import { documentsTouched, foldBatch } from '../../projections/fold-batch';
import type { PositionedDocument, Projection } from '../../projections/projection';
import type { DocumentChange, ReadModelStore } from '../../projections/ports';
import type { CustomerOrderDocument, InventoryDocument, OrderDocument, ProductDocument } from '../../projections/read-models';
import type { BrowseCursor, BrowseQuery, CatalogueQueries, CustomerOrdersCursor, InventoryQueries, OrderQueries, Page } from '../../read-api/ports';

const schema = `
CREATE TABLE IF NOT EXISTS rm_documents (
  collection TEXT    NOT NULL,
  id         TEXT    NOT NULL,
  doc        TEXT    NOT NULL,
  PRIMARY KEY (collection, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rm_products (
  sku         TEXT    PRIMARY KEY,
  listed      INTEGER NOT NULL,
  category    TEXT    NOT NULL,
  price_cents INTEGER NOT NULL,
  sort_name   TEXT    NOT NULL,
  search_text TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rm_products_by_category ON rm_products (listed, category, price_cents, sku);
CREATE INDEX IF NOT EXISTS rm_products_by_price ON rm_products (listed, price_cents, sku);
CREATE INDEX IF NOT EXISTS rm_products_by_name ON rm_products (listed, sort_name, sku);
CREATE TABLE IF NOT EXISTS rm_customer_orders (
  customer_id TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  order_id    TEXT NOT NULL,
  PRIMARY KEY (customer_id, created_at, order_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rm_checkpoints (
  runner   TEXT    PRIMARY KEY,
  position INTEGER NOT NULL
) WITHOUT ROWID;
`;

const CUSTOMER_ORDERS = 'customer_orders';

/**
 * The embedded read models in their own SQLite file: the same documents as the in-memory ones, but a restart resumes
 * from the stored checkpoint instead of replaying the whole log. A batch (documents, query tables and checkpoint) is
 * one transaction, so the file is always at a batch boundary; it can be deleted at any time to force a rebuild.
 */
export class SqliteReadModels implements ReadModelStore, CatalogueQueries, OrderQueries, InventoryQueries {
  private readonly statements: {
    get: Statement<[string, string], { doc: string }>;
    put: Statement<[string, string, string]>;
    remove: Statement<[string, string]>;
    putProduct: Statement<[string, number, string, number, string, string]>;
    removeProduct: Statement<[string]>;
    putCustomerOrder: Statement<[string, string, string]>;
    removeCustomerOrder: Statement<[string, string, string]>;
    loadCheckpoint: Statement<[string], { position: number }>;
    saveCheckpoint: Statement<[string, number]>;
    clearCollection: Statement<[string]>;
    clearCheckpoint: Statement<[string]>;
  };
  private readonly browseStatements = new Map<string, Statement<unknown[], { doc: string }>>();
  private readonly applyInTransaction: Database.Transaction<(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number) => DocumentChange[]>;

  constructor(readonly db: Database.Database) {
    db.exec(schema);
    this.statements = {
      get: db.prepare('SELECT doc FROM rm_documents WHERE collection = ? AND id = ?'),
      put: db.prepare('INSERT OR REPLACE INTO rm_documents (collection, id, doc) VALUES (?, ?, ?)'),
      remove: db.prepare('DELETE FROM rm_documents WHERE collection = ? AND id = ?'),
      putProduct: db.prepare('INSERT OR REPLACE INTO rm_products (sku, listed, category, price_cents, sort_name, search_text) VALUES (?, ?, ?, ?, ?, ?)'),
      removeProduct: db.prepare('DELETE FROM rm_products WHERE sku = ?'),
      putCustomerOrder: db.prepare('INSERT OR IGNORE INTO rm_customer_orders (customer_id, created_at, order_id) VALUES (?, ?, ?)'),
      removeCustomerOrder: db.prepare('DELETE FROM rm_customer_orders WHERE customer_id = ? AND created_at = ? AND order_id = ?'),
      loadCheckpoint: db.prepare('SELECT position FROM rm_checkpoints WHERE runner = ?'),
      saveCheckpoint: db.prepare('INSERT INTO rm_checkpoints (runner, position) VALUES (?, ?) ON CONFLICT (runner) DO UPDATE SET position = max(position, excluded.position)'),
      clearCollection: db.prepare('DELETE FROM rm_documents WHERE collection = ?'),
      clearCheckpoint: db.prepare('DELETE FROM rm_checkpoints WHERE runner = ?'),
    };
    this.applyInTransaction = db.transaction((runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number) => {
      const changes = events.length > 0 ? this.fold(projections, events) : [];
      for (const change of changes) this.write(change);
      this.statements.saveCheckpoint.run(runner, position);
      return changes;
    });
  }

  async applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]> {
    return this.applyInTransaction.immediate(runner, projections, events, position);
  }

  async loadCheckpoint(runner: string): Promise<number | undefined> {
    return this.statements.loadCheckpoint.get(runner)?.position;
  }

  async reset(runner: string, projections: readonly Projection[]): Promise<void> {
    this.db.transaction(() => {
      for (const p of projections) {
        this.statements.clearCollection.run(p.name);
        if (p.name === 'products') this.db.prepare('DELETE FROM rm_products').run();
        if (p.name === CUSTOMER_ORDERS) this.db.prepare('DELETE FROM rm_customer_orders').run();
      }
      this.statements.clearCheckpoint.run(runner);
    }).immediate();
  }

  async product(sku: string): Promise<ProductDocument | undefined> {
    return this.document<ProductDocument>('products', sku);
  }

  async inventory(sku: string): Promise<InventoryDocument | undefined> {
    return this.document<InventoryDocument>('inventory', sku);
  }

  async order(orderId: string): Promise<OrderDocument | undefined> {
    return this.document<OrderDocument>('orders', orderId);
  }

  async browse(query: BrowseQuery): Promise<Page<ProductDocument, BrowseCursor>> {
    const where = ['p.listed = 1'];
    const params: unknown[] = [];
    if (query.category !== undefined) {
      where.push('p.category = ?');
      params.push(query.category);
    }
    if (query.minPrice !== undefined) {
      where.push('p.price_cents >= ?');
      params.push(query.minPrice);
    }
    if (query.maxPrice !== undefined) {
      where.push('p.price_cents <= ?');
      params.push(query.maxPrice);
    }
    const terms = (query.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
    for (const term of terms) {
      where.push('instr(p.search_text, ?) > 0');
      params.push(term);
    }
    const column = query.sort === 'name' ? 'p.sort_name' : 'p.price_cents';
    const descending = query.sort === '-price';
    if (query.after) {
      where.push(`(${column} ${descending ? '<' : '>'} ? OR (${column} = ? AND p.sku > ?))`);
      params.push(query.after.key, query.after.key, query.after.sku);
    }
    const sql =
      `SELECT d.doc FROM rm_products p JOIN rm_documents d ON d.collection = 'products' AND d.id = p.sku ` +
      `WHERE ${where.join(' AND ')} ORDER BY ${column} ${descending ? 'DESC' : 'ASC'}, p.sku ASC LIMIT ?`;
    const rows = this.browseStatement(sql).all(...params, query.limit + 1);
    const docs = rows.map((r) => JSON.parse(r.doc) as ProductDocument);
    const items = docs.slice(0, query.limit);
    const last = items[items.length - 1];
    const next = docs.length > query.limit && last ? { key: query.sort === 'name' ? last.name.toLowerCase() : last.priceCents, sku: last.sku } : undefined;
    return { items, next };
  }

  async customerOrders(customerId: string, limit: number, after?: CustomerOrdersCursor): Promise<Page<CustomerOrderDocument, CustomerOrdersCursor>> {
    const cursor = after ? 'AND (c.created_at < ? OR (c.created_at = ? AND c.order_id > ?))' : '';
    const sql =
      `SELECT d.doc FROM rm_customer_orders c JOIN rm_documents d ON d.collection = '${CUSTOMER_ORDERS}' AND d.id = c.customer_id || '/' || c.order_id ` +
      `WHERE c.customer_id = ? ${cursor} ORDER BY c.created_at DESC, c.order_id ASC LIMIT ?`;
    const params: unknown[] = after ? [customerId, after.createdAt, after.createdAt, after.orderId] : [customerId];
    const docs = this.browseStatement(sql)
      .all(...params, limit + 1)
      .map((r) => JSON.parse(r.doc) as CustomerOrderDocument);
    const items = docs.slice(0, limit);
    const last = items[items.length - 1];
    return { items, next: docs.length > limit && last ? { createdAt: last.createdAt, orderId: last.orderId } : undefined };
  }

  private document<T>(collection: string, id: string): T | undefined {
    const row = this.statements.get.get(collection, id);
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  private fold(projections: readonly Projection[], events: readonly RecordedEvent[]): DocumentChange[] {
    const loaded = new Map<string, Map<string, PositionedDocument | undefined>>();
    for (const [collection, ids] of documentsTouched(projections, events)) {
      const docs = new Map<string, PositionedDocument | undefined>();
      for (const id of ids) docs.set(id, this.document<PositionedDocument>(collection, id));
      loaded.set(collection, docs);
    }
    return foldBatch(projections, events, (collection, id) => loaded.get(collection)?.get(id));
  }

  private write(change: DocumentChange): void {
    const s = this.statements;
    if (change.after) s.put.run(change.collection, change.id, JSON.stringify(change.after));
    else s.remove.run(change.collection, change.id);
    if (change.collection === 'products') {
      const p = change.after as ProductDocument | undefined;
      if (p) s.putProduct.run(p.sku, p.listed ? 1 : 0, p.category, p.priceCents, p.name.toLowerCase(), `${p.name} ${p.category} ${p.description}`.toLowerCase());
      else s.removeProduct.run(change.id);
    } else if (change.collection === CUSTOMER_ORDERS) {
      const before = change.before as CustomerOrderDocument | undefined;
      const after = change.after as CustomerOrderDocument | undefined;
      if (before && (before.createdAt !== after?.createdAt || before.orderId !== after.orderId)) s.removeCustomerOrder.run(before.customerId, before.createdAt, before.orderId);
      if (after) s.putCustomerOrder.run(after.customerId, after.createdAt, after.orderId);
    }
  }

  private browseStatement(sql: string): Statement<unknown[], { doc: string }> {
    let statement = this.browseStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare<unknown[], { doc: string }>(sql);
      this.browseStatements.set(sql, statement);
    }
    return statement;
  }
}
