import { z } from 'zod';

/** A domain event as the deciders see it: a discriminated union member. */
export interface DomainEvent<T extends string = string, D = unknown> {
  readonly type: T;
  readonly data: D;
}

/** One versioned event schema; its version is stored as `schemaVersion` in every event's metadata. */
export interface EventDefinition<T extends string, S extends z.ZodType> {
  readonly type: T;
  readonly version: number;
  readonly schema: S;
}

export const defineEvent = <T extends string, S extends z.ZodType>(type: T, schema: S, version = 1): EventDefinition<T, S> => ({
  type,
  version,
  schema,
});

export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? DomainEvent<T, z.infer<S>> : never;

export const isoTimestamp = z.iso.datetime();
export const skuSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a SKU is 1-64 of A-Z a-z 0-9 . _ - and starts with a letter or digit');
/** Ids chosen by clients (customers, receipts, adjustments). */
export const identifier = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/, '1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit');
export const orderIdSchema = z.string().regex(/^ord_[A-Za-z0-9_-]{24}$/, 'an order id looks like ord_ followed by 24 characters');
export const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
