/**
 * Quick in-process measurement: durable reservations on one SKU through the hot-SKU writer (SQLite, synchronous=FULL).
 * The full benchmark suite (harness, baselines, charts) is `npm run bench`; this is the one-number sanity check.
 * Usage: npx tsx bench/quick-hot-sku.ts [reservations=200000] [inFlight=4000]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InventoryWriter } from '../commands/inventory/inventory-writer';
import { SqliteEventStore } from '../infra/sqlite/sqlite-event-store';
import { SqliteSnapshotStore } from '../infra/sqlite/sqlite-snapshot-store';

const total = Number(process.argv[2] ?? 200_000);
const inFlight = Number(process.argv[3] ?? 4000);

const main = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'crest-bench-'));
  const store = new SqliteEventStore({ file: join(dir, 'crest.sqlite'), synchronous: 'FULL' });
  const batches: number[] = [];
  const writer = new InventoryWriter('HOT', {
    store,
    snapshots: new SqliteSnapshotStore(store.db),
    clock: { now: () => new Date() },
    ids: { next: () => randomUUID() },
    observer: { batchCommitted: (_s, commands) => batches.push(commands), commandDecided: () => {}, conflict: () => {}, loaded: () => {}, snapshotFailed: () => {} },
    options: { maxBatch: 2000, snapshotEvery: 50_000, maxConflictRetries: 5 },
  });
  const ctx = { commandId: 'bench', correlationId: 'bench' };
  await writer.submit({ type: 'ReceiveStock', sku: 'HOT', receiptId: 'r', quantity: total }, ctx);
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  let next = 0;
  let ok = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const outcome = await writer.submit({ type: 'ReserveStock', sku: 'HOT', orderId: `o-${i}`, quantity: 1, expiresAt }, ctx);
        if (outcome.ok) ok++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  writer.stop();
  const meanBatch = batches.reduce((a, b) => a + b, 0) / batches.length;
  console.log(`conditions: ${cpus().length} CPUs (${cpus()[0]?.model}), node ${process.version}, SQLite WAL synchronous=FULL, ${inFlight} in flight`);
  console.log(`hot-SKU writer: ${ok} durable reservations in ${seconds.toFixed(2)} s = ${Math.round(ok / seconds).toLocaleString('en')} /s (mean batch ${meanBatch.toFixed(0)} commands, ${batches.length} appends)`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
};

void main();
