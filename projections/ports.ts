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

/** One generation of the read models: its own documents and checkpoints, and how to release them. */
export interface ReadModelGeneration<M extends ReadModelStore = ReadModelStore> {
  readonly name: string;
  readonly models: M;
  close(): Promise<void>;
}

/** Which generation readers use, and the one being built beside it (blue/green), if any. */
export interface GenerationPointer {
  readonly active: string;
  readonly building: string | undefined;
}

/**
 * Where blue/green generations of the read models live (a database each, a file each, or memory) and which one readers
 * use. The pointer is as durable as the adapter: a restart opens the generation last switched to, and a rebuild that
 * was cancelled or cut short resumes from the checkpoint its generation kept.
 */
export interface ReadModelGenerations<M extends ReadModelStore = ReadModelStore> {
  pointer(): Promise<GenerationPointer>;
  /** Opens a generation, creating it empty if it does not exist. */
  open(name: string): Promise<ReadModelGeneration<M>>;
  /** Records that `name` is being built, so that a later rebuild resumes it instead of starting another. */
  markBuilding(name: string): Promise<void>;
  /** Makes `name` the generation readers use and clears the building mark. */
  activate(name: string): Promise<void>;
  /** Where a generation lives, for messages: a database, a file, or memory. */
  describe(name: string): string;
  /** Whether a retired generation stays where it was until an operator drops it (a file, a database) or goes by itself. */
  readonly keepsRetired: boolean;
}

/** The generation every store starts with, and the name of the one after `name`. */
export const firstGeneration = 'g0';
export const nextGeneration = (name: string): string => `g${Number(name.slice(1)) + 1}`;
