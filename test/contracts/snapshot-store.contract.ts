import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Snapshot, SnapshotStore } from '../../commands/ports';

export interface SnapshotStoreHarness {
  open(): Promise<SnapshotStore>;
  /** Releases whatever the store last opened holds. */
  close?: () => Promise<void>;
  /** Releases the current store and returns a new one over the same data. Omit for stores that forget. */
  reopen?: () => Promise<SnapshotStore>;
}

const newStreamId = (): string => `inventory-${randomUUID()}`;

const snapshotOf = (streamId: string, revision: number, state: unknown = { revision }): Snapshot => ({
  streamId,
  revision,
  position: 1000 + revision,
  schemaVersion: 1,
  state,
});

export const snapshotStoreContract = (name: string, harness: SnapshotStoreHarness): void => {
  describe(`${name} (snapshot store contract)`, () => {
    let store: SnapshotStore;

    before(async () => {
      store = await harness.open();
    });

    after(async () => {
      await harness.close?.();
    });

    it('loads a stream without a snapshot as undefined', async () => {
      expect(await store.load(newStreamId())).to.equal(undefined);
    });

    it('round-trips a saved snapshot', async () => {
      const snapshot: Snapshot = {
        streamId: newStreamId(),
        revision: 41,
        position: 9_876_543,
        schemaVersion: 3,
        state: { sku: 'TEE-001', onHand: 12, reserved: { 'order-1': 2 }, notes: ['Grüße', '你好', '👩🏽‍💻'], price: 24.99, discontinued: false, owner: null },
      };
      await store.save(snapshot);
      expect(await store.load(snapshot.streamId)).to.deep.equal(snapshot);
    });

    it('replaces a snapshot with a newer revision', async () => {
      const streamId = newStreamId();
      await store.save(snapshotOf(streamId, 3));
      await store.save(snapshotOf(streamId, 8));
      expect(await store.load(streamId)).to.deep.equal(snapshotOf(streamId, 8));
    });

    it('never replaces a snapshot with an older revision', async () => {
      const streamId = newStreamId();
      await store.save(snapshotOf(streamId, 10));
      await store.save(snapshotOf(streamId, 4));
      expect(await store.load(streamId)).to.deep.equal(snapshotOf(streamId, 10));

      const raced = newStreamId();
      await Promise.all([7, 19, 2, 11].map((revision) => store.save(snapshotOf(raced, revision))));
      expect(await store.load(raced)).to.deep.equal(snapshotOf(raced, 19));
    });

    it('keeps the snapshots of different streams apart', async () => {
      const [a, b] = [newStreamId(), newStreamId()];
      await store.save(snapshotOf(a, 5, { stream: 'a' }));
      await store.save(snapshotOf(b, 2, { stream: 'b' }));
      expect(await store.load(a)).to.deep.equal(snapshotOf(a, 5, { stream: 'a' }));
      expect(await store.load(b)).to.deep.equal(snapshotOf(b, 2, { stream: 'b' }));
    });

    it('is unaffected when the caller later mutates what it saved', async () => {
      const streamId = newStreamId();
      const state = { lines: [{ sku: 'TEE-001', quantity: 1 }] };
      await store.save(snapshotOf(streamId, 1, state));
      state.lines[0]!.quantity = 99;
      expect(await store.load(streamId)).to.deep.equal(snapshotOf(streamId, 1, { lines: [{ sku: 'TEE-001', quantity: 1 }] }));
    });

    describe('reopening', function () {
      before(function () {
        if (!harness.reopen) this.skip();
      });

      it('keeps the newest snapshot of each stream', async () => {
        const [a, b] = [newStreamId(), newStreamId()];
        await store.save(snapshotOf(a, 6, { text: 'ünïcödé ✓' }));
        await store.save(snapshotOf(b, 1));
        await store.save(snapshotOf(b, 0));

        store = await harness.reopen!();

        expect(await store.load(a)).to.deep.equal(snapshotOf(a, 6, { text: 'ünïcödé ✓' }));
        expect(await store.load(b)).to.deep.equal(snapshotOf(b, 1));
        await store.save(snapshotOf(a, 5));
        expect((await store.load(a))?.revision).to.equal(6);
      });
    });
  });
};
