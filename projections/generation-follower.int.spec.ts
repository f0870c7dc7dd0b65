import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteReadModelGenerations } from '../infra/sqlite/sqlite-read-model-generations';
import { RecordedLog } from '../test/support/recorded';
import { GenerationFollower } from './generation-follower';
import { productsProjection } from './read-models';

describe('An API node following the read-model generation pointer', () => {
  let dir = '';
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'crest-follower-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const fold = async (generations: SqliteReadModelGenerations, name: string, position: number): Promise<void> => {
    const log = new RecordedLog(position - 1);
    log.append('product-P', 'ProductListed', { sku: 'P', name: `from ${name}`, category: 'c', priceCents: 1, description: '' });
    const generation = await generations.open(name);
    await generation.models.applyBatch('read-models', [productsProjection], log.events, position);
    await generation.close();
  };

  it('moves to the generation switched to only once its checkpoint has reached what the node has served', async () => {
    // given a node that has served position 10 from g0, and a builder (another process) that switched to g1 at 8
    const builder = new SqliteReadModelGenerations(dir);
    await fold(builder, 'g0', 10);
    await fold(builder, 'g1', 8);
    const switches: string[] = [];
    const follower = new GenerationFollower(new SqliteReadModelGenerations(dir), { runner: 'read-models', served: () => 10, pollMs: 60_000 }, { switched: (from, to) => switches.push(`${from}->${to}`), failed: (e) => { throw e; } });
    await follower.start();
    expect(follower.generation).to.equal('g0');
    await builder.activate('g1');
    // when it checks the pointer
    await follower.poll();
    // then it stays on g0, since g1 is behind what readers have seen
    expect(follower.generation).to.equal('g0');
    expect((await follower.models.product('P'))?.name).to.equal('from g0');
    // when g1 passes position 10, and it checks again
    await fold(builder, 'g1', 11);
    await follower.poll();
    // then it reads g1
    expect(follower.generation).to.equal('g1');
    expect((await follower.models.product('P'))?.name).to.equal('from g1');
    expect(switches).to.deep.equal(['g0->g1']);
    await follower.stop();
  });
});
