import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { seedProduct, startCrest } from '../support/crest-harness';
import { expectStockInvariant } from '../support/stock';
import { waitFor } from '../support/wait-for';

const projectedEvents = async (crest: Awaited<ReturnType<typeof startCrest>>): Promise<number> => {
  const text = (await crest.call('GET', '/metrics')).body as string;
  const line = text.split('\n').find((l) => l.startsWith('crest_projection_events_total{') && l.includes('projection="read-models"'));
  return line ? Number(line.split(' ').pop()) : 0;
};

describe('CREST_READ_MODELS=sqlite (embedded read models kept across restarts)', () => {
  it('serves the same read models after a restart without replaying the log', async () => {
    const first = await startCrest({ CREST_READ_MODELS: 'sqlite' });
    await seedProduct(first, 'KEPT-1', 12);
    const placed = await first.call('POST', '/v1/orders', {
      headers: { 'idempotency-key': 'kept-order-1' },
      body: { customerId: 'keeper', lines: [{ sku: 'KEPT-1', quantity: 2 }] },
    });
    expect(placed.status).to.equal(201);
    const position = String(placed.body.position);
    const card = await first.call('GET', '/v1/products/KEPT-1', { headers: { 'x-min-position': position } });
    expect(card.body).to.include({ available: 10 });
    await first.stop();

    const second = await startCrest({ CREST_READ_MODELS: 'sqlite' }, first.dataDir);
    try {
      expect((await second.call('GET', '/health/ready')).status).to.equal(200);
      expect(await projectedEvents(second)).to.equal(0);
      expect((await second.call('GET', '/v1/products/KEPT-1')).body).to.include({ available: 10 });
      expect((await second.call('GET', `/v1/orders/${placed.body.orderId}`)).body).to.include({ status: 'awaiting_payment' });
      const inventory = await second.call('GET', '/v1/inventory/KEPT-1');
      expect(inventory.body).to.include({ received: 12, reserved: 2, sold: 0, available: 10 });
      expectStockInvariant(inventory.body);
    } finally {
      await second.dispose();
    }
  });

  it('rebuilds read models that are ahead of the event log (the log was replaced)', async () => {
    const first = await startCrest({ CREST_READ_MODELS: 'sqlite' });
    await seedProduct(first, 'GONE-1', 5);
    await first.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(join(first.dataDir, `crest.sqlite${suffix}`), { force: true });

    const second = await startCrest({ CREST_READ_MODELS: 'sqlite' }, first.dataDir);
    try {
      await waitFor(async () => (await second.call('GET', '/health/ready')).status === 200, 5000, 'readiness');
      expect((await second.call('GET', '/v1/products/GONE-1')).status).to.equal(404);
      await seedProduct(second, 'NEW-1', 3);
      const card = await second.call('GET', '/v1/products/NEW-1', { headers: { 'x-min-position': '1' } });
      expect(card.body).to.include({ available: 3 });
    } finally {
      await second.dispose();
    }
  });
});
