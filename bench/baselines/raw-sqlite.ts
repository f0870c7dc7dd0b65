/**
 * Baselines on bare SQLite: what the disk and better-sqlite3 allow one hot stream, without Crest's writer.
 * - `rawSqliteBatched`: better-sqlite3, WAL, synchronous=FULL; one IMMEDIATE transaction per batch that reads the
 *   stream's head revision, checks it, inserts the batch and moves the head (the bench notes' baseline).
 * - `storeOnlyAppends`: Crest's own SqliteEventStore.appendToStream with ready-made events in writer-sized batches:
 *   the ceiling the store puts under the writer (no deciding, validating or promise per command).
 */
import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventToAppend } from '../../domain/kernel/event-store';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';

const MINIMAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  position  INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id TEXT    NOT NULL,
  revision  INTEGER NOT NULL,
  type      TEXT    NOT NULL,
  data      TEXT    NOT NULL,
  UNIQUE (stream_id, revision)
);
CREATE TABLE IF NOT EXISTS streams (stream_id TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
`;

export const rawSqliteBatched = (dir: string, events: number, batch: number): { eventsPerSec: number; transactions: number } => {
  const db = new Database(join(dir, 'raw.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(MINIMAL_SCHEMA);
  const head = db.prepare<[string], { revision: number }>('SELECT revision FROM streams WHERE stream_id = ?');
  const insert = db.prepare('INSERT INTO events (stream_id, revision, type, data) VALUES (?, ?, ?, ?)');
  const moveHead = db.prepare('INSERT INTO streams (stream_id, revision) VALUES (?, ?) ON CONFLICT (stream_id) DO UPDATE SET revision = excluded.revision');
  const stream = 'inventory-RAW';
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const append = db.transaction((expected: number, first: number, count: number) => {
    const current = head.get(stream)?.revision ?? -1;
    if (current !== expected) throw new Error(`revision check failed: expected ${expected}, found ${current}`);
    for (let k = 0; k < count; k++) {
      const i = first + k;
      insert.run(stream, expected + 1 + k, 'StockReserved', JSON.stringify({ sku: 'RAW', orderId: `o-${i}`, quantity: 1, expiresAt }));
    }
    moveHead.run(stream, expected + count);
  });
  let revision = -1;
  let transactions = 0;
  const started = performance.now();
  for (let written = 0; written < events; written += batch) {
    const count = Math.min(batch, events - written);
    append.immediate(revision, written, count);
    revision += count;
    transactions++;
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return { eventsPerSec: events / seconds, transactions };
};

export const storeOnlyAppends = async (dir: string, events: number, batch: number): Promise<{ eventsPerSec: number }> => {
  const store = new SqliteEventStore({ file: join(dir, 'store-only.sqlite'), synchronous: 'FULL' });
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const metadata = { correlationId: 'bench', causationId: 'bench', commandId: 'bench', timestamp: new Date().toISOString(), schemaVersion: 1 };
  const stream = 'inventory-STORE';
  let revision: number | 'no_stream' = 'no_stream';
  const started = performance.now();
  for (let written = 0; written < events; written += batch) {
    const count = Math.min(batch, events - written);
    const page: EventToAppend[] = [];
    for (let k = 0; k < count; k++) {
      page.push({ id: randomUUID(), type: 'StockReserved', data: { sku: 'STORE', orderId: `o-${written + k}`, quantity: 1, expiresAt }, metadata });
    }
    revision = (await store.appendToStream(stream, page, revision)).nextExpectedRevision;
  }
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return { eventsPerSec: events / seconds };
};
