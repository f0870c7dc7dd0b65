import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventStore } from '../domain/kernel/event-store';
import { MemoryEventStore } from '../infra/memory/memory-event-store';
import { MemoryReadModelGenerations } from '../infra/memory/memory-read-model-generations';
import type { MemoryReadModels } from '../infra/memory/memory-read-models';
import { SqliteReadModelGenerations } from '../infra/sqlite/sqlite-read-model-generations';
import { waitFor } from '../test/support/wait-for';
import { BlueGreenReadModels, RebuildNotReadyError, type RebuildObserver, type RebuildStatus } from './blue-green-read-models';
import type { ProjectionObserver, ReadModelGenerations, ReadModelStore } from './ports';
import { customerOrdersProjection, inventoryProjection, ordersProjection, productsProjection, type InventoryDocument } from './read-models';
import type { InventoryQueries } from '../read-api/ports';

type Models = ReadModelStore & InventoryQueries;

const quiet: ProjectionObserver = { batchApplied: () => undefined, caughtUp: () => undefined, catchingUp: () => undefined, failed: () => undefined, skipped: () => undefined, checkpointAheadOfLog: () => undefined };

class RecordingRebuildObserver implements RebuildObserver {
  readonly seen: Array<{ what: string; status: RebuildStatus; resumed?: boolean }> = [];
  started = (status: RebuildStatus, resumed: boolean) => void this.seen.push({ what: 'started', status, resumed });
  progressed = (status: RebuildStatus) => void this.seen.push({ what: 'progressed', status });
  caughtUp = (status: RebuildStatus) => void this.seen.push({ what: 'caughtUp', status });
  switched = (status: RebuildStatus) => void this.seen.push({ what: 'switched', status });
  cancelled = (status: RebuildStatus) => void this.seen.push({ what: 'cancelled', status });
  failed = (status: RebuildStatus) => void this.seen.push({ what: 'failed', status });
}

/** Real generations whose new ones apply batches only while not held: a rebuild that takes as long as a test wants. */
const gated = <M extends ReadModelStore>(inner: ReadModelGenerations<M>): { generations: ReadModelGenerations<M>; hold(): void; release(): void } => {
  let held = false;
  let waiting: Array<() => void> = [];
  const generations: ReadModelGenerations<M> = {
    pointer: () => inner.pointer(),
    markBuilding: (name) => inner.markBuilding(name),
    activate: (name) => inner.activate(name),
    describe: (name) => inner.describe(name),
    keepsRetired: inner.keepsRetired,
    open: async (name) => {
      const generation = await inner.open(name);
      if (name === 'g0') return generation;
      const models = generation.models;
      const slowed = Object.create(models) as M;
      slowed.applyBatch = async (...args) => {
        while (held) await new Promise<void>((resolve) => waiting.push(resolve));
        return models.applyBatch(...args);
      };
      return { ...generation, models: slowed };
    },
  };
  return {
    generations,
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      for (const resume of waiting.splice(0)) resume();
      waiting = [];
    },
  };
};

const runnerOptions = { name: 'read-models', projections: [productsProjection, inventoryProjection, ordersProjection, customerOrdersProjection], batchSize: 50, poisonPolicy: 'stop' as const };

const receive = async (store: EventStore, sku: string, times: number): Promise<number> => {
  let position = 0;
  for (let i = 0; i < times; i++) {
    const result = await store.appendToStream(`inventory-${sku}`, [{ id: `${sku}-r${i}-${Math.random()}`, type: 'StockReceived', data: { sku, receiptId: `rcpt-${sku}-${i}-${Math.random()}`, quantity: 1 }, metadata: {} }], 'any');
    position = result.position;
  }
  return position;
};

describe('Blue/green read models', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const setUp = (generations: ReadModelGenerations<Models> = new MemoryReadModelGenerations() as ReadModelGenerations<MemoryReadModels>) => {
    const store = new MemoryEventStore();
    const observer = new RecordingRebuildObserver();
    const readModels = new BlueGreenReadModels<Models>(store, generations, quiet, observer, { runner: runnerOptions, drainMs: 20, sampleMs: 5 });
    return { store, observer, readModels };
  };

  it('switches readers to the rebuilt generation while events keep coming, and no read ever goes back', async () => {
    // given live read models that have folded 200 receipts
    const { store, observer, readModels } = setUp();
    await receive(store, 'HOT', 200);
    await readModels.start();
    await waitFor(() => readModels.progress.position() >= 200, 5000, 'the live generation');
    // when a rebuild with --switch runs while 100 more receipts arrive, and a reader reads all along
    const seen: number[] = [];
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const doc = (await readModels.models.inventory('HOT')) as InventoryDocument | undefined;
        seen.push(doc?.received ?? -1);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const started = await readModels.rebuild(true);
    const writes = receive(store, 'HOT', 100);
    await writes;
    await waitFor(() => readModels.status()?.state === 'switched', 5000, 'the switch');
    reading = false;
    await reader;
    // then readers are on g1, which holds every receipt, and what the reader saw never went back
    expect(started).to.include({ generation: 'g1', replacing: 'g0' });
    expect(readModels.generation).to.equal('g1');
    await waitFor(() => readModels.progress.position() >= 300, 5000, 'g1 at the head');
    expect(((await readModels.models.inventory('HOT')) as InventoryDocument).received).to.equal(300);
    expect(seen.every((value, i) => i === 0 || value >= seen[i - 1]!), `reads went back: ${seen.join(',')}`).to.equal(true);
    expect(seen).to.not.include(-1);
    expect(observer.seen.map((s) => s.what)).to.include.members(['started', 'caughtUp', 'switched']);
    await readModels.stop();
  });

  it('carries a read-your-writes wait on the retired generation over to the new one', async () => {
    // given live read models and a rebuild that has caught up
    const { store, readModels } = setUp();
    await receive(store, 'RYW', 20);
    await readModels.start();
    await readModels.rebuild(false);
    await waitFor(() => readModels.status()?.state === 'caught_up', 5000, 'caught up');
    // when a reader waits for a position not yet written, and the switch happens before it is
    const waiting = readModels.progress.waitFor(21, 3000);
    await readModels.switchOver();
    await readModels.drained();
    await receive(store, 'RYW', 1);
    // then the wait ends when the new generation reaches it
    expect(await waiting).to.equal(true);
    await readModels.stop();
  });

  it('refuses to switch before the new generation has caught up, then cancels and resumes it from its checkpoint', async () => {
    // given a rebuild whose batches are held back after the first
    const gate = gated<Models>(new MemoryReadModelGenerations() as ReadModelGenerations<MemoryReadModels>);
    const { store, observer, readModels } = setUp(gate.generations);
    await receive(store, 'SLOW', 300);
    await readModels.start();
    gate.hold();
    await readModels.rebuild(false);
    // when a switch is asked for
    // then it is refused, naming how far the rebuild has got
    const refused = await readModels.switchOver().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).to.be.instanceOf(RebuildNotReadyError);
    expect((refused as RebuildNotReadyError).code).to.equal('rebuild_not_ready');
    // when it is cancelled, and started again
    gate.release();
    await waitFor(() => (readModels.status()?.position ?? 0) >= 100, 5000, 'some progress');
    gate.hold();
    const cancelled = await readModels.cancel();
    expect(cancelled?.state).to.equal('cancelled');
    gate.release();
    const resumed = await readModels.rebuild(false);
    // then it resumes the same generation from where it stopped, and catches up
    expect(resumed.generation).to.equal('g1');
    expect(observer.seen.find((s) => s.what === 'started' && s.resumed)).to.not.equal(undefined);
    await waitFor(() => readModels.status()?.state === 'caught_up', 5000, 'caught up');
    expect(readModels.status()?.events).to.be.below(300);
    await readModels.switchOver();
    expect(((await readModels.models.inventory('SLOW')) as InventoryDocument).received).to.equal(300);
    await readModels.stop();
  });

  it('opens the generation it switched to after a restart (SQLite files)', async () => {
    // given read models in SQLite files, switched to a rebuilt generation
    const dir = mkdtempSync(join(tmpdir(), 'crest-bluegreen-'));
    dirs.push(dir);
    const { store, readModels } = setUp(new SqliteReadModelGenerations(dir));
    await receive(store, 'FILE', 10);
    await readModels.start();
    await readModels.rebuild(true);
    await waitFor(() => readModels.status()?.state === 'switched', 5000, 'the switch');
    await readModels.stop();
    // when the process starts again
    const again = new BlueGreenReadModels<Models>(store, new SqliteReadModelGenerations(dir), quiet, new RecordingRebuildObserver(), { runner: runnerOptions, drainMs: 0 });
    await again.start();
    // then it serves g1, which has kept its documents
    expect(again.generation).to.equal('g1');
    expect(again.target).to.equal(join(dir, 'read-models-g1.sqlite'));
    expect(((await again.models.inventory('FILE')) as InventoryDocument).received).to.equal(10);
    await again.stop();
  });
});
