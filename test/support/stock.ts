import { expect } from 'chai';
import { availableOf, inventoryDecider, type InventoryEvent } from '../../domain/inventory/inventory';
import type { EventStore } from '../../domain/kernel/event-store';
import { streamName } from '../../domain/kernel/streams';

export interface StockFromLog {
  readonly received: number;
  readonly adjusted: number;
  readonly available: number;
  readonly reserved: number;
  readonly sold: number;
  readonly reservations: number;
}

/** Folds a SKU's inventory stream straight from the store: the ground truth the invariant is checked against. */
export const stockFromLog = async (store: EventStore, sku: string): Promise<StockFromLog> => {
  let state = inventoryDecider.initialState();
  for (const e of await store.readStream(streamName('inventory', sku))) state = inventoryDecider.evolve(state, { type: e.type, data: e.data } as InventoryEvent);
  return { received: state.received, adjusted: state.adjusted, available: availableOf(state), reserved: state.reserved, sold: state.sold, reservations: state.reservations.size };
};

/** available + reserved + sold == received + adjusted, and none of them negative. */
export const expectStockInvariant = (s: Omit<StockFromLog, 'reservations'>): void => {
  expect(s.available + s.reserved + s.sold, `invariant for ${JSON.stringify(s)}`).to.equal(s.received + s.adjusted);
  expect(s.available).to.be.at.least(0);
  expect(s.reserved).to.be.at.least(0);
  expect(s.sold).to.be.at.least(0);
};
