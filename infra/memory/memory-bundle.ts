import type { StoreBundle } from '../shared/store-bundle';
import { MemoryCheckpointStore } from './memory-checkpoint-store';
import { MemoryEventStore } from './memory-event-store';
import { MemoryPaymentTokenVault } from './memory-payment-token-vault';
import { MemorySnapshotStore } from './memory-snapshot-store';

/** Everything in process memory: nothing survives a restart. */
export const memoryBundle = (): StoreBundle => ({
  events: new MemoryEventStore(),
  snapshots: new MemorySnapshotStore(),
  checkpoints: new MemoryCheckpointStore(),
  paymentTokens: new MemoryPaymentTokenVault(),
});
