import type { RecordedEvent } from '../domain/kernel/event-store';
import { PoisonEventError } from './log-follower';
import { applyGuarded, type PositionedDocument, type Projection } from './projection';
import type { DocumentChange } from './ports';

export type DocumentLookup = (collection: string, id: string) => PositionedDocument | undefined;

/**
 * Runs a batch through the projections against documents from `lookup`, keeping each document's latest version
 * in memory across the batch. Returns one change per document that the batch actually changed.
 */
export const foldBatch = (projections: readonly Projection[], events: readonly RecordedEvent[], lookup: DocumentLookup): DocumentChange[] => {
  type Entry = { collection: string; id: string; before: PositionedDocument | undefined; after: PositionedDocument | undefined };
  // one map per projection: no composite string key per event
  const working = projections.map(() => new Map<string, Entry>());
  for (const event of events) {
    for (let p = 0; p < projections.length; p++) {
      const projection = projections[p]!;
      if (!projection.eventTypes.has(event.type)) continue;
      const docs = working[p]!;
      // the fold is pure: what fails here fails on every attempt, so it is a poison event, not a transient error
      try {
        for (const id of projection.documentIds(event)) {
          let entry = docs.get(id);
          if (!entry) {
            const before = lookup(projection.name, id);
            entry = { collection: projection.name, id, before, after: before };
            docs.set(id, entry);
          }
          entry.after = applyGuarded(projection, entry.after, event, id);
        }
      } catch (error) {
        throw new PoisonEventError(event, error);
      }
    }
  }
  const changes: DocumentChange[] = [];
  for (const docs of working) for (const entry of docs.values()) if (entry.after !== entry.before) changes.push(entry);
  return changes;
};

/** Ids every projection would touch for these events, grouped by collection: what an adapter must prefetch. */
export const documentsTouched = (projections: readonly Projection[], events: readonly RecordedEvent[]): Map<string, Set<string>> => {
  const touched = new Map<string, Set<string>>();
  for (const event of events) {
    for (const projection of projections) {
      if (!projection.eventTypes.has(event.type)) continue;
      let ids = touched.get(projection.name);
      if (!ids) touched.set(projection.name, (ids = new Set()));
      try {
        for (const id of projection.documentIds(event)) ids.add(id);
      } catch (error) {
        throw new PoisonEventError(event, error);
      }
    }
  }
  return touched;
};
