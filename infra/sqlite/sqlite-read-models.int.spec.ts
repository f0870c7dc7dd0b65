import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection } from '../../projections/read-models';
import { readModelContract } from '../../test/contracts/read-model.contract';
import { RecordedLog } from '../../test/support/recorded';
import { openSqliteFile } from './sqlite-database';
import { SqliteReadModels } from './sqlite-read-models';

const dir = mkdtempSync(join(tmpdir(), 'crest-read-models-'));
after(() => rmSync(dir, { recursive: true, force: true }));

readModelContract('SqliteReadModels', {
  open: async () => new SqliteReadModels(openSqliteFile({ file: join(dir, 'contract.sqlite'), synchronous: 'NORMAL' })),
  close: async (store) => {
    (store as SqliteReadModels).db.close();
  },
});

describe('SqliteReadModels across a restart', () => {
  it('keeps documents and the checkpoint, so a new process resumes where the last batch ended', async () => {
    const file = join(dir, 'restart.sqlite');
    const projections = [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection];
    const log = new RecordedLog();
    log.append('product-R1', 'ProductListed', { sku: 'R1', name: 'Restart kettle', category: 'restart', priceCents: 1200, description: 'survives' });
    const received = log.append('inventory-R1', 'StockReceived', { sku: 'R1', receiptId: 'r1', quantity: 7 });

    const first = new SqliteReadModels(openSqliteFile({ file, synchronous: 'NORMAL' }));
    await first.applyBatch('read-models', projections, log.events, received.position);
    first.db.close();

    const second = new SqliteReadModels(openSqliteFile({ file, synchronous: 'NORMAL' }));
    try {
      expect(await second.loadCheckpoint('read-models')).to.equal(received.position);
      expect(await second.product('R1')).to.include({ name: 'Restart kettle', available: 7, position: received.position });
      expect((await second.browse({ category: 'restart', sort: 'price', limit: 10 })).items.map((p) => p.sku)).to.deep.equal(['R1']);
    } finally {
      second.db.close();
    }
  });
});
