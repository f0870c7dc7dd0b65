import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { firstGeneration, type ReadModelGenerations } from '../../projections/ports';
import { productsProjection, type ProductDocument } from '../../projections/read-models';
import type { CatalogueQueries } from '../../read-api/ports';
import { RecordedLog } from '../support/recorded';

type Generations = ReadModelGenerations<import('../../projections/ports').ReadModelStore & CatalogueQueries>;

export interface GenerationsHarness {
  /** A fresh set of generations: its own directory, database or memory. */
  open(): Promise<Generations>;
  /** The same set as a restart (or another process) opens it; absent where nothing outlives the process. */
  reopen?(): Promise<Generations>;
}

const runner = 'read-models';

/** One suite, every adapter: where blue/green generations live and which one readers use. */
export const readModelGenerationsContract = (name: string, harness: GenerationsHarness): void => {
  describe(`${name} read-model generations (contract)`, () => {
    const listed = (sku: string) => {
      const log = new RecordedLog();
      log.append(`product-${sku}`, 'ProductListed', { sku, name: 'Thing', category: 'c', priceCents: 100, description: '' });
      return log.events;
    };

    it('starts at the first generation, with nothing being built', async () => {
      // given a new set of generations
      const generations = await harness.open();
      // when it is asked where readers are
      // then they are at the first generation, and nothing is being built
      expect(await generations.pointer()).to.deep.equal({ active: firstGeneration, building: undefined });
    });

    it('keeps each generation\'s documents and checkpoint apart', async () => {
      // given a product folded into a new generation
      const generations = await harness.open();
      const sku = `SKU-${randomUUID().slice(0, 8)}`;
      const green = await generations.open('g1');
      await green.models.applyBatch(runner, [productsProjection], listed(sku), 1);
      // when the first generation is read
      const blue = await generations.open(firstGeneration);
      // then it has neither the product nor the checkpoint; the new one has both
      expect(await blue.models.product(sku)).to.equal(undefined);
      expect(await blue.models.loadCheckpoint(runner)).to.equal(undefined);
      expect((await green.models.product(sku) as ProductDocument).sku).to.equal(sku);
      expect(await green.models.loadCheckpoint(runner)).to.equal(1);
      await blue.close();
      await green.close();
    });

    it('records the generation being built, and clears the mark when it becomes active', async () => {
      // given a rebuild into g1
      const generations = await harness.open();
      await generations.markBuilding('g1');
      expect(await generations.pointer()).to.deep.equal({ active: firstGeneration, building: 'g1' });
      // when g1 becomes active
      await generations.activate('g1');
      // then readers are on g1 and nothing is being built
      expect(await generations.pointer()).to.deep.equal({ active: 'g1', building: undefined });
    });

    it('opens a generation again with the documents and checkpoint it kept', async () => {
      // given a generation that was written and closed
      const generations = await harness.open();
      const sku = `SKU-${randomUUID().slice(0, 8)}`;
      const first = await generations.open('g2');
      await first.models.applyBatch(runner, [productsProjection], listed(sku), 1);
      await first.close();
      // when it is opened again (a cancelled rebuild resumed)
      const again = await generations.open('g2');
      // then its checkpoint and documents are there
      expect(await again.models.loadCheckpoint(runner)).to.equal(1);
      expect((await again.models.product(sku))?.sku).to.equal(sku);
      await again.close();
    });

    it('describes where each generation lives, a different place for each', async () => {
      const generations = await harness.open();
      expect(generations.describe('g0')).to.be.a('string').and.not.equal(generations.describe('g1'));
      expect(generations.keepsRetired).to.be.a('boolean');
    });

    if (harness.reopen) {
      it('keeps the pointer and the mark across a restart', async () => {
        // given a switch to g1 and a rebuild into g2 under way
        const generations = await harness.open();
        await generations.activate('g1');
        await generations.markBuilding('g2');
        // when the store is opened again
        const reopened = await harness.reopen!();
        // then it remembers both
        expect(await reopened.pointer()).to.deep.equal({ active: 'g1', building: 'g2' });
      });
    }
  });
};
