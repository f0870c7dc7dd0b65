/**
 * Writes a realistic event log into a data directory, for start-up and rebuild measurements:
 * products with stock, then orders that reserve stock (some cancelled, releasing it).
 * Usage: npx tsx bench/seed-log.ts <dataDir> [events=1000000] [skus=1000]
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventToAppend } from '../domain/kernel/event-store';
import { SqliteEventStore } from '../infra/sqlite/sqlite-event-store';

const meta = { correlationId: 'seed', causationId: 'seed', commandId: 'seed', timestamp: new Date().toISOString(), schemaVersion: 1 };
const ev = (type: string, data: unknown): EventToAppend => ({ id: randomUUID(), type, data, metadata: meta });

export const seedLog = async (dataDir: string, targetEvents: number, skuCount: number, progress = true): Promise<number> => {
  // seeding is not the thing measured, so it skips fsync; the store is reopened with the configured durability later
  const store = new SqliteEventStore({ file: join(dataDir, 'crest.sqlite'), synchronous: 'OFF' });
  let written = 0;
  const revisions = new Map<string, number>();
  const append = async (stream: string, events: EventToAppend[]) => {
    const r = await store.appendToStream(stream, events, revisions.get(stream) ?? 'no_stream');
    revisions.set(stream, r.nextExpectedRevision);
    written += events.length;
  };
  const stock = Math.ceil(targetEvents / skuCount);
  for (let s = 0; s < skuCount; s++) {
    const sku = `SEED-${String(s).padStart(5, '0')}`;
    await append(`product-${sku}`, [ev('ProductListed', { sku, name: `Seeded product ${s}`, category: `cat-${s % 20}`, priceCents: 100 + ((s * 37) % 9900), description: 'seeded for benchmarks' })]);
    await append(`inventory-${sku}`, [ev('StockReceived', { sku, receiptId: `seed-${s}`, quantity: stock })]);
  }
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  let order = 0;
  let lastReport = Date.now();
  const db = store.db;
  while (written < targetEvents) {
    db.exec('BEGIN');
    for (let k = 0; k < 1000 && written < targetEvents; k++, order++) {
      const sku = `SEED-${String(order % skuCount).padStart(5, '0')}`;
      const orderId = `ord_${String(order).padStart(24, '0')}`;
      const reserved = ev('StockReserved', { sku, orderId, quantity: 1, expiresAt });
      await append(`inventory-${sku}`, [reserved]);
      await append(`order-${orderId}`, [
        ev('OrderPlaced', { orderId, customerId: `cust-${order % 5000}`, lines: [{ sku, quantity: 1, priceCents: 100 }], totalCents: 100, requestHash: 'seed', placedAt: meta.timestamp, expiresAt }),
      ]);
      if (order % 4 === 0) {
        await append(`order-${orderId}`, [ev('OrderCancelled', { orderId, customerId: `cust-${order % 5000}`, cancelledAt: meta.timestamp })]);
        await append(`inventory-${sku}`, [ev('ReservationReleased', { sku, orderId, quantity: 1, reason: 'cancelled' })]);
      }
    }
    db.exec('COMMIT');
    if (progress && Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      process.stderr.write(`  seeded ${written.toLocaleString('en')} / ${targetEvents.toLocaleString('en')} events\n`);
    }
  }
  await store.close();
  return written;
};

if (require.main === module) {
  const [dir, events = '1000000', skus = '1000'] = process.argv.slice(2);
  if (!dir) {
    process.stderr.write('usage: seed-log.ts <dataDir> [events] [skus]\n');
    process.exit(2);
  }
  const started = performance.now();
  void seedLog(dir, Number(events), Number(skus)).then((n) => process.stdout.write(`seeded ${n} events into ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`));
}
