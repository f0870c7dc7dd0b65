import { Map as IMap, Set as ISet } from 'immutable';
import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, positiveInt, skuSchema, type EventOf } from '../kernel/event';

export const releaseReasons = ['cancelled', 'expired', 'payment_failed', 'order_rejected', 'order_abandoned'] as const;
export type ReleaseReason = (typeof releaseReasons)[number];

export const InventoryEvents = {
  StockReceived: defineEvent('StockReceived', z.object({ sku: skuSchema, receiptId: z.string().min(1), quantity: positiveInt })),
  StockAdjusted: defineEvent('StockAdjusted', z.object({ sku: skuSchema, adjustmentId: z.string().min(1), delta: z.number().int().refine((d) => d !== 0), reason: z.string().min(1) })),
  /** `saleId`, `customerId` and `priceCents` when the SKU's sale was live: the units count towards the customer's limit. */
  StockReserved: defineEvent(
    'StockReserved',
    z.object({
      sku: skuSchema,
      orderId: z.string().min(1),
      quantity: positiveInt,
      expiresAt: isoTimestamp,
      saleId: z.string().min(1).optional(),
      customerId: z.string().min(1).optional(),
      priceCents: z.number().int().min(0).optional(),
    }),
  ),
  ReservationReleased: defineEvent('ReservationReleased', z.object({ sku: skuSchema, orderId: z.string().min(1), quantity: positiveInt, reason: z.enum(releaseReasons) })),
  ReservationConfirmed: defineEvent('ReservationConfirmed', z.object({ sku: skuSchema, orderId: z.string().min(1), quantity: positiveInt })),
  ConfirmationsPruned: defineEvent('ConfirmationsPruned', z.object({ sku: skuSchema, before: isoTimestamp })),
  /** The SKU's writer knows its sales, so the window and the limit are judged where every unit is decided. */
  SalePlanned: defineEvent(
    'SalePlanned',
    z.object({ sku: skuSchema, saleId: z.string().min(1), priceCents: z.number().int().min(0), startsAt: isoTimestamp, endsAt: isoTimestamp, perCustomerLimit: positiveInt }),
  ),
  SaleWithdrawn: defineEvent('SaleWithdrawn', z.object({ sku: skuSchema, saleId: z.string().min(1) })),
};
export type InventoryEvent = EventOf<(typeof InventoryEvents)[keyof typeof InventoryEvents]>;

export type InventoryCommand =
  | { readonly type: 'ReceiveStock'; readonly sku: string; readonly receiptId: string; readonly quantity: number }
  | { readonly type: 'AdjustStock'; readonly sku: string; readonly adjustmentId: string; readonly delta: number; readonly reason: string }
  | {
      readonly type: 'ReserveStock';
      readonly sku: string;
      readonly orderId: string;
      readonly quantity: number;
      readonly expiresAt: string;
      /** Who orders: counted against a live sale's limit. */
      readonly customerId?: string;
      /** When the writer decides (its clock): judges a sale's window. */
      readonly at?: string;
      /** The live sale the line was priced in (`null`: list price); refused as `sale_changed` if the writer judges otherwise. */
      readonly pricedInSale?: string | null;
    }
  | { readonly type: 'ReleaseReservation'; readonly sku: string; readonly orderId: string; readonly reason: ReleaseReason }
  | { readonly type: 'ConfirmReservation'; readonly sku: string; readonly orderId: string }
  | { readonly type: 'ExpireReservations'; readonly sku: string; readonly now: string }
  | { readonly type: 'PlanSale'; readonly sku: string; readonly saleId: string; readonly priceCents: number; readonly startsAt: string; readonly endsAt: string; readonly perCustomerLimit: number }
  | { readonly type: 'WithdrawSale'; readonly sku: string; readonly saleId: string };

/** A sale as the SKU's writer knows it. */
export interface SaleWindow {
  readonly priceCents: number;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly perCustomerLimit: number;
}

export interface Reservation {
  readonly quantity: number;
  readonly expiresAt: string;
  /** Set when reserved in a live sale: the sale and the customer whose limit the units count towards. */
  readonly saleId?: string;
  readonly customerId?: string;
}

/** Reservations and id sets are persistent collections, so evolve stays pure and O(log n) per event. */
export interface InventoryState {
  readonly received: number;
  readonly adjusted: number;
  readonly reserved: number;
  readonly sold: number;
  readonly reservations: IMap<string, Reservation>;
  /**
   * Orders whose reservation became a sale, until the reservation would have expired: a repeated confirmation (a
   * redelivered saga step) is then a no-op instead of "not held". Pruned by the expiry sweep.
   */
  readonly confirmed: IMap<string, string>;
  readonly receipts: ISet<string>;
  readonly adjustments: ISet<string>;
  /** The SKU's sales that are not withdrawn, by sale id. */
  readonly sales: IMap<string, SaleWindow>;
  /** Per sale, the units each customer holds in it: reserved or confirmed, never released. */
  readonly holdings: IMap<string, IMap<string, number>>;
}

/** The four counters every stock view keeps, whatever else it keeps beside them. */
export interface StockCounts {
  readonly received: number;
  readonly adjusted: number;
  readonly reserved: number;
  readonly sold: number;
}

/** A SKU's stock as every answer and view shows it: `available + reserved + sold == received + adjusted`. */
export interface StockFigures extends StockCounts {
  readonly available: number;
}

export const noStock: StockCounts = { received: 0, adjusted: 0, reserved: 0, sold: 0 };

export const availableOf = (s: StockCounts): number => s.received + s.adjusted - s.reserved - s.sold;

export const figuresOf = (s: StockCounts): StockFigures => ({ received: s.received, adjusted: s.adjusted, available: availableOf(s), reserved: s.reserved, sold: s.sold });

/** How one event moves the counters: the single definition the decider and every projection of stock share. */
export const countStock = (s: StockCounts, event: InventoryEvent): StockCounts => {
  switch (event.type) {
    case 'StockReceived':
      return { ...s, received: s.received + event.data.quantity };
    case 'StockAdjusted':
      return { ...s, adjusted: s.adjusted + event.data.delta };
    case 'StockReserved':
      return { ...s, reserved: s.reserved + event.data.quantity };
    case 'ReservationReleased':
      return { ...s, reserved: s.reserved - event.data.quantity };
    case 'ReservationConfirmed':
      return { ...s, reserved: s.reserved - event.data.quantity, sold: s.sold + event.data.quantity };
    case 'ConfirmationsPruned':
    case 'SalePlanned':
    case 'SaleWithdrawn':
      return s;
    default:
      return assertNever(event);
  }
};

/** The sale that governs the SKU at `at`: the earliest one not yet ended (scheduled or live), if any. */
export const governingSale = (sales: IMap<string, SaleWindow>, at: number): ({ readonly saleId: string } & SaleWindow) | undefined => {
  let found: ({ readonly saleId: string } & SaleWindow) | undefined;
  for (const [saleId, sale] of sales) {
    if (Date.parse(sale.endsAt) <= at) continue;
    if (!found || Date.parse(sale.startsAt) < Date.parse(found.startsAt) || (sale.startsAt === found.startsAt && saleId < found.saleId)) found = { saleId, ...sale };
  }
  return found;
};

const overlaps = (a: SaleWindow, b: SaleWindow): boolean => Date.parse(a.startsAt) < Date.parse(b.endsAt) && Date.parse(b.startsAt) < Date.parse(a.endsAt);

const heldIn = (state: InventoryState, saleId: string, customerId: string): number => state.holdings.get(saleId)?.get(customerId) ?? 0;

const addHolding = (holdings: IMap<string, IMap<string, number>>, saleId: string, customerId: string, delta: number): IMap<string, IMap<string, number>> => {
  const sale = holdings.get(saleId);
  // a withdrawn sale's holdings are gone: a late release has nothing left to give back
  if (!sale && delta < 0) return holdings;
  const next = (sale?.get(customerId) ?? 0) + delta;
  const updated = next > 0 ? (sale ?? IMap<string, number>()).set(customerId, next) : (sale ?? IMap<string, number>()).delete(customerId);
  return holdings.set(saleId, updated);
};

const initialState = (): InventoryState => ({
  received: 0,
  adjusted: 0,
  reserved: 0,
  sold: 0,
  reservations: IMap(),
  confirmed: IMap(),
  receipts: ISet(),
  adjustments: ISet(),
  sales: IMap(),
  holdings: IMap(),
});

const decide = (command: InventoryCommand, state: InventoryState): Decision<InventoryEvent> => {
  const { sku } = command;
  switch (command.type) {
    case 'ReceiveStock':
      if (state.receipts.has(command.receiptId)) return unchanged();
      return accept({ type: 'StockReceived', data: { sku, receiptId: command.receiptId, quantity: command.quantity } });
    case 'AdjustStock': {
      if (state.adjustments.has(command.adjustmentId)) return unchanged();
      const available = availableOf(state);
      if (available + command.delta < 0) {
        return reject('insufficient_stock', `Adjusting ${sku} by ${command.delta} would take available (${available}) below zero`, { sku, available });
      }
      return accept({ type: 'StockAdjusted', data: { sku, adjustmentId: command.adjustmentId, delta: command.delta, reason: command.reason } });
    }
    case 'ReserveStock': {
      if (state.confirmed.has(command.orderId)) return unchanged();
      const held = state.reservations.get(command.orderId);
      if (held) {
        if (held.quantity === command.quantity) return unchanged();
        return reject('reservation_mismatch', `Order ${command.orderId} already holds ${held.quantity} of ${sku}`, { sku, held: held.quantity });
      }
      const base = { sku, orderId: command.orderId, quantity: command.quantity, expiresAt: command.expiresAt };
      const sale = command.at === undefined ? undefined : governingSale(state.sales, Date.parse(command.at));
      if (sale && Date.parse(command.at!) < Date.parse(sale.startsAt)) {
        return reject('sale_not_started', `${sku} goes on sale at ${sale.startsAt}`, { sku, saleId: sale.saleId, startsAt: sale.startsAt });
      }
      if (command.pricedInSale !== undefined && command.pricedInSale !== (sale?.saleId ?? null)) {
        return reject('sale_changed', `The line was priced ${command.pricedInSale ? `in sale ${command.pricedInSale}` : 'at list price'}, but ${sku} now sells ${sale ? `in sale ${sale.saleId}` : 'at list price'}`, {
          sku,
          saleId: sale?.saleId ?? null,
        });
      }
      if (sale) {
        const customerId = command.customerId ?? '';
        const held = heldIn(state, sale.saleId, customerId);
        if (held + command.quantity > sale.perCustomerLimit) {
          return reject('purchase_limit_exceeded', `At most ${sale.perCustomerLimit} of ${sku} per customer in sale ${sale.saleId} (${customerId} holds ${held})`, {
            sku,
            saleId: sale.saleId,
            limit: sale.perCustomerLimit,
            held,
          });
        }
      }
      const available = availableOf(state);
      if (available < command.quantity) return reject('out_of_stock', `Only ${available} of ${sku} available`, { sku, available });
      if (!sale) return accept({ type: 'StockReserved', data: base });
      return accept({ type: 'StockReserved', data: { ...base, saleId: sale.saleId, customerId: command.customerId ?? '', priceCents: sale.priceCents } });
    }
    case 'ReleaseReservation': {
      const held = state.reservations.get(command.orderId);
      if (!held) return unchanged();
      return accept({ type: 'ReservationReleased', data: { sku, orderId: command.orderId, quantity: held.quantity, reason: command.reason } });
    }
    case 'ConfirmReservation': {
      const held = state.reservations.get(command.orderId);
      if (!held && state.confirmed.has(command.orderId)) return unchanged();
      if (!held) return reject('reservation_not_held', `Order ${command.orderId} holds no reservation of ${sku}`, { sku });
      return accept({ type: 'ReservationConfirmed', data: { sku, orderId: command.orderId, quantity: held.quantity } });
    }
    case 'ExpireReservations': {
      const now = Date.parse(command.now);
      const due = [...state.reservations]
        .filter(([, r]) => Date.parse(r.expiresAt) <= now)
        // a fixed order, so a state restored from a snapshot decides exactly as the live one
        .sort(([aId, a], [bId, b]) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt) || (aId < bId ? -1 : aId > bId ? 1 : 0));
      const releases = due.map(([orderId, r]): InventoryEvent => ({ type: 'ReservationReleased', data: { sku, orderId, quantity: r.quantity, reason: 'expired' } }));
      const prune: InventoryEvent[] = [...state.confirmed.values()].some((expiresAt) => Date.parse(expiresAt) <= now)
        ? [{ type: 'ConfirmationsPruned', data: { sku, before: command.now } }]
        : [];
      return releases.length + prune.length === 0 ? unchanged() : accept(...releases, ...prune);
    }
    case 'PlanSale': {
      const window: SaleWindow = {
        priceCents: command.priceCents,
        startsAt: new Date(command.startsAt).toISOString(),
        endsAt: new Date(command.endsAt).toISOString(),
        perCustomerLimit: command.perCustomerLimit,
      };
      if (Date.parse(window.startsAt) >= Date.parse(window.endsAt)) return reject('invalid_sale_window', `A sale must start before it ends`, { sku, saleId: command.saleId });
      // sorted, so the answer names the same sale however the state was built
      const clash = [...state.sales.entries()].filter(([id, other]) => id !== command.saleId && overlaps(window, other)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))[0];
      if (clash) return reject('sale_overlaps', `Sale ${command.saleId} overlaps sale ${clash[0]} of ${sku}`, { sku, saleId: command.saleId, overlaps: clash[0] });
      const known = state.sales.get(command.saleId);
      if (known && known.priceCents === window.priceCents && known.startsAt === window.startsAt && known.endsAt === window.endsAt && known.perCustomerLimit === window.perCustomerLimit) {
        return unchanged();
      }
      return accept({ type: 'SalePlanned', data: { sku, saleId: command.saleId, ...window } });
    }
    case 'WithdrawSale':
      if (!state.sales.has(command.saleId)) return unchanged();
      return accept({ type: 'SaleWithdrawn', data: { sku, saleId: command.saleId } });
    default:
      return assertNever(command);
  }
};

const evolve = (state: InventoryState, event: InventoryEvent): InventoryState => {
  const counted = countStock(state, event);
  const { received, adjusted, reserved, sold } = counted;
  const next = { ...state, received, adjusted, reserved, sold };
  switch (event.type) {
    case 'StockReceived':
      return { ...next, receipts: state.receipts.add(event.data.receiptId) };
    case 'StockAdjusted':
      return { ...next, adjustments: state.adjustments.add(event.data.adjustmentId) };
    case 'StockReserved': {
      const { orderId, quantity, expiresAt, saleId, customerId } = event.data;
      const reservation: Reservation = saleId !== undefined && customerId !== undefined ? { quantity, expiresAt, saleId, customerId } : { quantity, expiresAt };
      const holdings = saleId !== undefined && customerId !== undefined ? addHolding(state.holdings, saleId, customerId, quantity) : state.holdings;
      return { ...next, reservations: state.reservations.set(orderId, reservation), holdings };
    }
    case 'ReservationReleased': {
      const held = state.reservations.get(event.data.orderId);
      // released units count no more towards the customer's limit
      const holdings = held?.saleId !== undefined && held.customerId !== undefined ? addHolding(state.holdings, held.saleId, held.customerId, -held.quantity) : state.holdings;
      return { ...next, reservations: state.reservations.delete(event.data.orderId), holdings };
    }
    case 'ReservationConfirmed': {
      const held = state.reservations.get(event.data.orderId);
      return { ...next, reservations: state.reservations.delete(event.data.orderId), confirmed: held ? state.confirmed.set(event.data.orderId, held.expiresAt) : state.confirmed };
    }
    case 'ConfirmationsPruned': {
      const before = Date.parse(event.data.before);
      return { ...state, confirmed: state.confirmed.filter((expiresAt) => Date.parse(expiresAt) > before) };
    }
    case 'SalePlanned': {
      const { saleId, priceCents, startsAt, endsAt, perCustomerLimit } = event.data;
      return { ...state, sales: state.sales.set(saleId, { priceCents, startsAt, endsAt, perCustomerLimit }) };
    }
    case 'SaleWithdrawn':
      return { ...state, sales: state.sales.delete(event.data.saleId), holdings: state.holdings.delete(event.data.saleId) };
    default:
      return assertNever(event);
  }
};

export const inventoryDecider: Decider<InventoryCommand, InventoryEvent, InventoryState> = { initialState, decide, evolve };

/** The earliest deadline the expiry sweep must act on (a reservation to release or a confirmation to forget). */
export const nextExpiry = (state: InventoryState): string | undefined => {
  let earliest: string | undefined;
  const consider = (at: string): void => {
    if (earliest === undefined || Date.parse(at) < Date.parse(earliest)) earliest = at;
  };
  for (const r of state.reservations.values()) consider(r.expiresAt);
  for (const at of state.confirmed.values()) consider(at);
  return earliest;
};

export const InventorySnapshotSchema = z.object({
  received: z.number().int(),
  adjusted: z.number().int(),
  reserved: z.number().int(),
  sold: z.number().int(),
  reservations: z.array(z.tuple([z.string(), z.object({ quantity: z.number().int(), expiresAt: z.string(), saleId: z.string().optional(), customerId: z.string().optional() })])),
  confirmed: z.array(z.tuple([z.string(), z.string()])).default([]),
  receipts: z.array(z.string()),
  adjustments: z.array(z.string()),
  sales: z.array(z.tuple([z.string(), z.object({ priceCents: z.number().int(), startsAt: z.string(), endsAt: z.string(), perCustomerLimit: z.number().int() })])).default([]),
  holdings: z.array(z.tuple([z.string(), z.array(z.tuple([z.string(), z.number().int()]))])).default([]),
});
export type InventorySnapshot = z.infer<typeof InventorySnapshotSchema>;
/** Version 2 added `confirmed`, version 3 sales and holdings; older snapshots load with none. */
export const INVENTORY_SNAPSHOT_VERSION = 3;
export const readableSnapshotVersions: readonly number[] = [1, 2, 3];

export const toSnapshot = (s: InventoryState): InventorySnapshot => ({
  received: s.received,
  adjusted: s.adjusted,
  reserved: s.reserved,
  sold: s.sold,
  reservations: [...s.reservations.entries()],
  confirmed: [...s.confirmed.entries()],
  receipts: [...s.receipts],
  adjustments: [...s.adjustments],
  sales: [...s.sales.entries()],
  holdings: [...s.holdings.entries()].map(([saleId, customers]) => [saleId, [...customers.entries()]]),
});

export const fromSnapshot = (snap: InventorySnapshot): InventoryState => ({
  received: snap.received,
  adjusted: snap.adjusted,
  reserved: snap.reserved,
  sold: snap.sold,
  reservations: IMap(snap.reservations),
  confirmed: IMap(snap.confirmed),
  receipts: ISet(snap.receipts),
  adjustments: ISet(snap.adjustments),
  sales: IMap(snap.sales),
  holdings: IMap(snap.holdings.map(([saleId, customers]) => [saleId, IMap(customers)])),
});
