/**
 * Quick in-process measurement of order placement (no HTTP): reserve + OrderPlaced through OrderCommands, SQLite FULL.
 * Usage: npx tsx bench/quick-orders.ts [orders=20000] [inFlight=256]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig } from '../infra/config/config';
import { createContainer, Tokens } from '../infra/composition/root';

const total = Number(process.argv[2] ?? 20_000);
const inFlight = Number(process.argv[3] ?? 256);

const main = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'crest-orders-'));
  const container = createContainer(parseConfig({}, { CREST_DATA_DIR: dir, CREST_ADMIN_TOKEN: 'quick-orders-admin-token', CREST_LOG_LEVEL: 'silent' }), { logger: pino({ level: 'silent' }) });
  const ctx = { commandId: 'bench', correlationId: 'bench' };
  const skus = ['Q-1', 'Q-2', 'Q-3', 'Q-4', 'Q-5'];
  for (const sku of skus) {
    await container.get(Tokens.Products).upsert(sku, { name: sku, category: 'q', priceCents: 100 }, ctx);
    await container.get(Tokens.Stock).receive(sku, { quantity: total, receiptId: 'r' }, ctx);
  }
  const orders = container.get(Tokens.Orders);
  let next = 0;
  let placed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const r = await orders.place({ customerId: `c-${i % 1000}`, idempotencyKey: `quick-${i}`, lines: [{ sku: skus[i % skus.length]!, quantity: 1 }] }, ctx);
        if (r.kind === 'placed') placed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`conditions: ${cpus().length} CPUs, node ${process.version}, SQLite WAL synchronous=FULL, ${inFlight} in flight, 5 SKUs, no HTTP`);
  console.log(`orders placed: ${placed} in ${seconds.toFixed(2)} s = ${Math.round(placed / seconds).toLocaleString('en')} orders/s`);
  container.get(Tokens.Inventory).stop();
  await container.get(Tokens.EventStore).close();
  rmSync(dir, { recursive: true, force: true });
};

void main();
