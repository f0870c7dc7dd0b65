/**
 * Writes a realistic event log into a data directory, for start-up and rebuild measurements: products with stock,
 * then a sale's history of orders through the real checkout's events. Of every 4 orders, 2 are paid (payment
 * requested, initiated, captured; order and reservation confirmed), 1 is cancelled and 1 expires unpaid (both release
 * their reservation). Only the last OPEN_ORDERS orders still await payment, as in a live store where an order waits
 * at most its reservation TTL. The checkout saga's checkpoint is written at the head: its work is done.
 * Usage: npx tsx bench/seed-log.ts <dataDir> [events=1000000] [skus=1000]
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventToAppend } from '../domain/kernel/event-store';
import { SqliteCheckpointStore } from '../infra/sqlite/sqlite-checkpoint-store';
import { SqliteEventStore } from '../infra/sqlite/sqlite-event-store';

const OPEN_ORDERS = 2000;
const SAGA_CHECKPOINT = 'checkout-saga';

const meta = { correlationId: 'seed', causationId: 'seed', commandId: 'seed', timestamp: new Date().toISOString(), schemaVersion: 1 };
const ev = (type: string, data: unknown): EventToAppend => ({ id: randomUUID(), type, data, metadata: meta });

/** Events per order in each outcome, used to stop placing settled orders early enough to leave OPEN_ORDERS open. */
const OPEN_ORDER_EVENTS = 2;

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
  // the open orders are the newest: their reservations and payment windows are still running
  const openExpiresAt = new Date(Date.now() + 86_400_000).toISOString();
  const settledExpiresAt = meta.timestamp;
  const at = meta.timestamp;
  let order = 0;
  let lastReport = Date.now();
  const db = store.db;
  while (written < targetEvents) {
    db.exec('BEGIN');
    for (let k = 0; k < 1000 && written < targetEvents; k++, order++) {
      const sku = `SEED-${String(order % skuCount).padStart(5, '0')}`;
      const orderId = `ord_${String(order).padStart(24, '0')}`;
      const customerId = `cust-${order % 5000}`;
      const open = targetEvents - written <= OPEN_ORDERS * OPEN_ORDER_EVENTS;
      const expiresAt = open ? openExpiresAt : settledExpiresAt;
      await append(`inventory-${sku}`, [ev('StockReserved', { sku, orderId, quantity: 1, expiresAt })]);
      await append(`order-${orderId}`, [ev('OrderPlaced', { orderId, customerId, lines: [{ sku, quantity: 1, priceCents: 100 }], totalCents: 100, requestHash: 'seed', placedAt: at, expiresAt })]);
      if (open) continue;
      const outcome = order % 4;
      if (outcome === 0) {
        await append(`order-${orderId}`, [ev('OrderCancelled', { orderId, customerId, cancelledAt: at })]);
        await append(`inventory-${sku}`, [ev('ReservationReleased', { sku, orderId, quantity: 1, reason: 'cancelled' })]);
      } else if (outcome === 1) {
        await append(`order-${orderId}`, [ev('OrderExpired', { orderId, customerId, expiredAt: at })]);
        await append(`inventory-${sku}`, [ev('ReservationReleased', { sku, orderId, quantity: 1, reason: 'expired' })]);
      } else {
        const paymentId = `pay_${orderId.slice(4)}`;
        await append(`order-${orderId}`, [ev('PaymentRequested', { orderId, customerId, paymentId, amountCents: 100, tokenFingerprint: 'fp-ok', requestedAt: at })]);
        await append(`payment-${paymentId}`, [
          ev('PaymentInitiated', { paymentId, orderId, amountCents: 100, initiatedAt: at }),
          ev('PaymentCaptured', { paymentId, orderId, amountCents: 100, providerEventId: `evt_${paymentId}`, capturedAt: at }),
        ]);
        await append(`order-${orderId}`, [ev('OrderConfirmed', { orderId, customerId, paymentId, confirmedAt: at })]);
        await append(`inventory-${sku}`, [ev('ReservationConfirmed', { sku, orderId, quantity: 1 })]);
      }
    }
    db.exec('COMMIT');
    if (progress && Date.now() - lastReport > 2000) {
      lastReport = Date.now();
      process.stderr.write(`  seeded ${written.toLocaleString('en')} / ${targetEvents.toLocaleString('en')} events\n`);
    }
  }
  await new SqliteCheckpointStore(db).save(SAGA_CHECKPOINT, (await store.headPosition()) ?? 0);
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
