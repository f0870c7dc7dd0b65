import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, skuSchema, type EventOf } from '../kernel/event';
import { priceCents } from '../product/product';

export const perCustomerLimit = z.number().int().min(1).max(100);

/** What a sale is: a SKU, a window `[startsAt, endsAt)`, a sale price and a limit per customer. */
export const saleTerms = z.object({ saleId: skuSchema, sku: skuSchema, priceCents, startsAt: isoTimestamp, endsAt: isoTimestamp, perCustomerLimit });
export type SaleTerms = z.infer<typeof saleTerms>;

export const SaleEvents = {
  SaleScheduled: defineEvent('SaleScheduled', saleTerms),
  SaleChanged: defineEvent('SaleChanged', saleTerms),
  SaleCancelled: defineEvent('SaleCancelled', z.object({ saleId: skuSchema, sku: skuSchema })),
};
export type SaleEvent = EventOf<(typeof SaleEvents)[keyof typeof SaleEvents]>;

export type SaleCommand = ({ readonly type: 'ScheduleSale' } & SaleTerms) | { readonly type: 'CancelSale'; readonly saleId: string };

export interface SaleState {
  readonly status: 'none' | 'active' | 'cancelled';
  readonly terms: SaleTerms | undefined;
}

/** What a client sees: `active` split by the clock into `scheduled`, `live` and `ended`. */
export type SaleStatus = 'scheduled' | 'live' | 'ended' | 'cancelled';

export const saleStatusAt = (state: { readonly cancelled: boolean; readonly startsAt: string; readonly endsAt: string }, now: number): SaleStatus => {
  if (state.cancelled) return 'cancelled';
  if (now < Date.parse(state.startsAt)) return 'scheduled';
  return now < Date.parse(state.endsAt) ? 'live' : 'ended';
};

const sameTerms = (a: SaleTerms, b: SaleTerms): boolean =>
  a.sku === b.sku && a.priceCents === b.priceCents && Date.parse(a.startsAt) === Date.parse(b.startsAt) && Date.parse(a.endsAt) === Date.parse(b.endsAt) && a.perCustomerLimit === b.perCustomerLimit;

const termsOf = (command: SaleTerms): SaleTerms => ({
  saleId: command.saleId,
  sku: command.sku,
  priceCents: command.priceCents,
  startsAt: new Date(command.startsAt).toISOString(),
  endsAt: new Date(command.endsAt).toISOString(),
  perCustomerLimit: command.perCustomerLimit,
});

const initialState = (): SaleState => ({ status: 'none', terms: undefined });

/**
 * A sale's own stream. Overlaps with the SKU's other sales are not judged here but by the SKU's writer, which knows
 * every sale of its SKU and decides one command at a time (`PlanSale` in the inventory decider).
 */
const decide = (command: SaleCommand, state: SaleState): Decision<SaleEvent> => {
  switch (command.type) {
    case 'ScheduleSale': {
      if (Date.parse(command.startsAt) >= Date.parse(command.endsAt)) {
        return reject('invalid_sale_window', `A sale must start before it ends (${command.startsAt} is not before ${command.endsAt})`, { startsAt: command.startsAt, endsAt: command.endsAt });
      }
      const terms = termsOf(command);
      if (state.status === 'none' || state.status === 'cancelled') return accept({ type: 'SaleScheduled', data: terms });
      if (state.terms!.sku !== terms.sku) {
        return reject('sale_sku_changed', `Sale ${command.saleId} is for ${state.terms!.sku}; cancel it and schedule a new one for ${terms.sku}`, { sku: state.terms!.sku });
      }
      if (sameTerms(state.terms!, terms)) return unchanged();
      return accept({ type: 'SaleChanged', data: terms });
    }
    case 'CancelSale':
      if (state.status === 'none') return reject('unknown_sale', `No sale ${command.saleId}`, { saleId: command.saleId });
      if (state.status === 'cancelled') return unchanged();
      return accept({ type: 'SaleCancelled', data: { saleId: command.saleId, sku: state.terms!.sku } });
    default:
      return assertNever(command);
  }
};

const evolve = (state: SaleState, event: SaleEvent): SaleState => {
  switch (event.type) {
    case 'SaleScheduled':
    case 'SaleChanged':
      return { status: 'active', terms: event.data };
    case 'SaleCancelled':
      return { ...state, status: 'cancelled' };
    default:
      return assertNever(event);
  }
};

export const saleDecider: Decider<SaleCommand, SaleEvent, SaleState> = { initialState, decide, evolve };
