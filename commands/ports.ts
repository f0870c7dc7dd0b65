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
