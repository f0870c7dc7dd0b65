import { eventDefinitions, type CrestEventType } from './events';

/** Turns the data of one version of an event type into the next version's. Pure. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

/**
 * Every upcaster, by event type and the version it reads: `upcasters.T[v]` turns version v of T into version v + 1.
 * An event whose type's current version is N is read through versions v .. N - 1 in order, so every reader (the
 * writers, the projections, the saga, exports, `events state`) sees only current versions.
 */
export const upcasters: Partial<Record<CrestEventType, Readonly<Record<number, Upcaster>>>> = {
  // version 1 had no description; a product listed before it has none
  ProductListed: { 1: (data) => ({ description: '', ...data }) },
  // version 1 carried the card token itself; no reader (an export least of all) gets it back
  PaymentRequested: {
    1: ({ paymentToken: _token, ...data }) => data,
  },
};

/** The event's data as its current version, and that version; data of an unknown type or of the current version as is. */
export const upcast = (type: string, version: number, data: unknown): { readonly version: number; readonly data: unknown } => {
  const definition = eventDefinitions[type as CrestEventType];
  if (!definition || version >= definition.version || typeof data !== 'object' || data === null) return { version, data };
  let current = data as Record<string, unknown>;
  for (let v = version; v < definition.version; v++) {
    const step = upcasters[type as CrestEventType]?.[v];
    if (!step) throw new Error(`no upcaster for ${type} version ${v} (its current version is ${definition.version})`);
    current = step(current);
  }
  return { version: definition.version, data: current };
};
