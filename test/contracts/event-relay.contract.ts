import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MemoryCheckpointStore } from '../../infra/memory/memory-checkpoint-store';
import { MemoryEventStore } from '../../infra/memory/memory-event-store';
import { EventRelay, type IntegrationPublisher } from '../../projections/event-relay';
import { waitFor } from '../support/wait-for';

/** What a relay destination must let the contract read back: event ids in the order one stream's events arrived. */
export interface RelayHarness {
  open(): Promise<{ publisher: IntegrationPublisher; received(): Promise<Array<{ id: string; streamId: string; position: number }>>; close(): Promise<void> }>;
}

const quiet = { relayed: () => {}, failed: () => {} };

export const eventRelayContract = (name: string, harness: RelayHarness): void => {
  describe(`${name} (event-relay contract)`, function () {
    this.timeout(60_000);

    it('relays every event once per run, in stream order, and resumes after its checkpoint', async () => {
      const store = new MemoryEventStore();
      const checkpoints = new MemoryCheckpointStore();
      const destination = await harness.open();
      const streams = [`inventory-${randomUUID()}`, `order-${randomUUID()}`];
      const append = async (n: number) => {
        for (let i = 0; i < n; i++) {
          await store.appendToStream(streams[i % 2]!, [{ id: randomUUID(), type: 'Relayed', data: { i }, metadata: {} }], 'any');
        }
      };
      await append(120);
      const relay = new EventRelay(store, destination.publisher, checkpoints, quiet, { name: 'contract', batchSize: 25 });
      await relay.start();
      await waitFor(async () => (await destination.received()).length >= 120, 30_000, 'the first 120 events');
      await relay.stop();

      await append(80);
      const resumed = new EventRelay(store, destination.publisher, checkpoints, quiet, { name: 'contract', batchSize: 25 });
      await resumed.start();
      await waitFor(async () => (await destination.received()).length >= 200, 30_000, 'all 200 events');
      await resumed.stop();

      const received = await destination.received();
      const all = await store.readAll();
      expect(received.map((r) => r.id).sort()).to.deep.equal(all.map((e) => e.id).sort());
      for (const stream of streams) {
        const positions = received.filter((r) => r.streamId === stream).map((r) => r.position);
        expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
      }
      expect(await checkpoints.load('contract')).to.equal(all[all.length - 1]!.position);
      await destination.close();
      await store.close();
    });
  });
};
