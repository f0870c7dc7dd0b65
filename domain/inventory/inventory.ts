import { Map as IMap, Set as ISet } from 'immutable';
import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, isoTimestamp, positiveInt, skuSchema, type EventOf } from '../kernel/event';

export const releaseReasons = ['cancelled', 'expired', 'payment_failed', 'order_rejected', 'order_abandoned'] as const;
export type ReleaseReason = (typeof releaseReasons)[number];

export const InventoryEvents = {
  StockReceived: defineEvent('StockReceived', z.object({ sku: skuSchema, receiptId: z.string().min(1), quantity: positiveInt })),
  StockAdjusted: defineEvent('StockAdjusted', z.object({ sku: skuSchema, adjustmentId: z.string().min(1), delta: z.number().int().refine((d) => d !== 0), reason: z.string().min(1) })),
  StockReserved: defineEvent('StockReserved', z.object({ sku: skuSchema, orderId: z.string().min(1), quantity: positiveInt, expiresAt: isoTimestamp })),
  ReservationReleased: defineEvent('ReservationReleased', z.object({ sku: skuSchema, orderId: z.string().min(1), quantity: positiveInt, reason: z.enum(releaseReasons) })),
  ReservationConfirmed: defineEvent('ReservationConfirmed', z.object({ sku: skuSchema, orderId: z.string().min(1), quantity: positiveInt })),
  ConfirmationsPruned: defineEvent('ConfirmationsPruned', z.object({ sku: skuSchema, before: isoTimestamp })),
};
export type InventoryEvent = EventOf<(typeof InventoryEvents)[keyof typeof InventoryEvents]>;

export type InventoryCommand =
  | { readonly type: 'ReceiveStock'; readonly sku: string; readonly receiptId: string; readonly quantity: number }
  | { readonly type: 'AdjustStock'; readonly sku: string; readonly adjustmentId: string; readonly delta: number; readonly reason: string }
  | { readonly type: 'ReserveStock'; readonly sku: string; readonly orderId: string; readonly quantity: number; readonly expiresAt: string }
  | { readonly type: 'ReleaseReservation'; readonly sku: string; readonly orderId: string; readonly reason: ReleaseReason }
  | { readonly type: 'ConfirmReservation'; readonly sku: string; readonly orderId: string }
  | { readonly type: 'ExpireReservations'; readonly sku: string; readonly now: string };

export interface Reservation {
  readonly quantity: number;
  readonly expiresAt: string;
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
      return s;
    default:
      return assertNever(event);
  }
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
      const available = availableOf(state);
      if (available < command.quantity) return reject('out_of_stock', `Only ${available} of ${sku} available`, { sku, available });
      return accept({ type: 'StockReserved', data: { sku, orderId: command.orderId, quantity: command.quantity, expiresAt: command.expiresAt } });
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
    case 'StockReserved':
      return { ...next, reservations: state.reservations.set(event.data.orderId, { quantity: event.data.quantity, expiresAt: event.data.expiresAt }) };
    case 'ReservationReleased':
      return { ...next, reservations: state.reservations.delete(event.data.orderId) };
    case 'ReservationConfirmed': {
      const held = state.reservations.get(event.data.orderId);
      return { ...next, reservations: state.reservations.delete(event.data.orderId), confirmed: held ? state.confirmed.set(event.data.orderId, held.expiresAt) : state.confirmed };
    }
    case 'ConfirmationsPruned': {
      const before = Date.parse(event.data.before);
      return { ...state, confirmed: state.confirmed.filter((expiresAt) => Date.parse(expiresAt) > before) };
    }
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
  reservations: z.array(z.tuple([z.string(), z.object({ quantity: z.number().int(), expiresAt: z.string() })])),
  confirmed: z.array(z.tuple([z.string(), z.string()])).default([]),
  receipts: z.array(z.string()),
  adjustments: z.array(z.string()),
});
export type InventorySnapshot = z.infer<typeof InventorySnapshotSchema>;
/** Version 2 added `confirmed`; a version-1 snapshot loads with none. */
export const INVENTORY_SNAPSHOT_VERSION = 2;
export const readableSnapshotVersions: readonly number[] = [1, 2];

export const toSnapshot = (s: InventoryState): InventorySnapshot => ({
  received: s.received,
  adjusted: s.adjusted,
  reserved: s.reserved,
  sold: s.sold,
  reservations: [...s.reservations.entries()],
  confirmed: [...s.confirmed.entries()],
  receipts: [...s.receipts],
  adjustments: [...s.adjustments],
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
});
