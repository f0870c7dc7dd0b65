import type { RecordedEvent } from '../domain/kernel/event-store';
import type { PositionedDocument, Projection } from './projection';

export interface DocumentChange {
  readonly collection: string;
  readonly id: string;
  readonly before: PositionedDocument | undefined;
  readonly after: PositionedDocument | undefined;
}

/**
 * Where projections keep their documents. Each adapter applies a batch with the per-document position guard and
 * stores the checkpoint with the batch (or after it, never before), so a redelivered batch changes nothing.
 */
export interface ReadModelStore {
  /** Folds `events` into the projections' documents and records `position` as the runner's checkpoint. */
  applyBatch(runner: string, projections: readonly Projection[], events: readonly RecordedEvent[], position: number): Promise<readonly DocumentChange[]>;
  loadCheckpoint(runner: string): Promise<number | undefined>;
  /** Drops the projections' documents and the runner's checkpoint, for a rebuild from zero. */
  reset(runner: string, projections: readonly Projection[]): Promise<void>;
}

/** What a runner reports; the composition root turns it into metrics and logs. */
export interface ProjectionObserver {
  batchApplied(runner: string, events: number, position: number, lagSeconds: number): void;
  caughtUp(runner: string, position: number, seconds: number, events: number): void;
  /** While replaying towards the head it started with, at most every few seconds: how far it has got. */
  catchingUp(runner: string, position: number, head: number, events: number, seconds: number): void;
  failed(runner: string, error: unknown, event: RecordedEvent | undefined): void;
  skipped(runner: string, error: unknown, event: RecordedEvent): void;
  /** The stored checkpoint is past the log's head (the read models were built from another log): they are rebuilt. */
  checkpointAheadOfLog(runner: string, checkpoint: number, head: number): void;
}
