import type { CheckpointStore, PaymentTokenVault, SnapshotStore } from '../../commands/ports';
import type { EventStore } from '../../domain/kernel/event-store';

/**
 * What one event-store technology brings along: the events, and the snapshots and checkpoints that point into
 * them, kept beside them. Each adapter opens its own bundle, so the composition root never asks which store it holds.
 */
export interface StoreBundle {
  readonly events: EventStore;
  readonly snapshots: SnapshotStore;
  readonly checkpoints: CheckpointStore;
  /** Where payment tokens wait for their charge, when the store can keep them outside its log. */
  readonly paymentTokens?: PaymentTokenVault;
}
