import type { RecordedEvent } from '../domain/kernel/event-store';

/** Every read-model document remembers the global position of the last event applied to it. */
export interface PositionedDocument {
  readonly position: number;
}

/**
 * A projection is a pure fold over documents: which documents an event touches, and how one document evolves.
 * Storage adapters (memory, MongoDB, Redis) all run these same functions.
 */
export interface Projection<D extends PositionedDocument = PositionedDocument> {
  /** Collection name, also the document store's namespace. */
  readonly name: string;
  readonly eventTypes: ReadonlySet<string>;
  /** Ids of the documents this event changes. */
  documentIds(event: RecordedEvent): readonly string[];
  /** The document after the event; `undefined` when the event leaves no document. Must not mutate `doc`. */
  evolve(doc: D | undefined, event: RecordedEvent, id: string): D | undefined;
}

/**
 * Applies an event unless the document has already seen it (or a later one): redelivery and replays are harmless.
 * Returns the same object when nothing changed.
 */
export const applyGuarded = <D extends PositionedDocument>(projection: Projection<D>, doc: D | undefined, event: RecordedEvent, id: string): D | undefined => {
  if (doc && doc.position >= event.position) return doc;
  return projection.evolve(doc, event, id);
};
