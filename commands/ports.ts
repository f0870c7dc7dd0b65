/** A stored fold of one stream up to a revision, so a writer need not replay the whole stream. */
export interface Snapshot {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
  readonly schemaVersion: number;
  readonly state: unknown;
}

/** Snapshot storage, owned by the stream writers that use it. Saving is best-effort: a lost snapshot only costs replay time. */
export interface SnapshotStore {
  load(streamId: string): Promise<Snapshot | undefined>;
  save(snapshot: Snapshot): Promise<void>;
}

/** The clock and id source: the only impure inputs a command handler needs, injected so tests control them. */
export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  next(): string;
}

export type { CheckpointStore } from '../domain/kernel/checkpoints';

/**
 * Holds the customer's payment token between the pay request and the payment's outcome, outside the event log:
 * events carry only the payment id and a fingerprint of the token, so the log, its relay and its exports never hold
 * a token that could be charged.
 */
export interface PaymentTokenVault {
  /** Keeps the token of a payment unless one is already kept for it (the first pay request's token wins). */
  keep(paymentId: string, token: string): Promise<void>;
  /** The kept token, or undefined when none is kept (never kept, or already forgotten). */
  find(paymentId: string): Promise<string | undefined>;
  /** Drops the token once the payment needs it no more. Forgetting an unknown payment does nothing. */
  forget(paymentId: string): Promise<void>;
}
