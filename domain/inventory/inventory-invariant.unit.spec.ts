import { expect } from 'chai';
import fc from 'fast-check';
import { fold, type Decision } from '../kernel/decider';
import { validateEvent } from '../events';
import {
  availableOf,
  fromSnapshot,
  inventoryDecider,
  InventorySnapshotSchema,
  releaseReasons,
  toSnapshot,
  type InventoryCommand,
  type InventoryEvent,
  type InventorySnapshot,
  type InventoryState,
} from './inventory';

const sku = 'TEE-001';
const NUM_RUNS = 500;

// Small pools, so replays, collisions and re-reservations of the same order happen often.
const receiptId = fc.constantFrom('rcpt-1', 'rcpt-2', 'rcpt-3', 'rcpt-4', 'rcpt-5');
const adjustmentId = fc.constantFrom('adj-1', 'adj-2', 'adj-3', 'adj-4', 'adj-5');
const BASE = Date.parse('2025-06-01T10:00:00.000Z');
const timestamp = fc.integer({ min: 0, max: 12 }).map((minutes) => new Date(BASE + minutes * 60_000).toISOString());

interface Mix {
  readonly orders: number;
  readonly maxReceipt: number;
  readonly reserveWeight: number;
}

const commandOf = ({ orders, maxReceipt, reserveWeight }: Mix): fc.Arbitrary<InventoryCommand> => {
  const orderId = fc.constantFrom(...Array.from({ length: orders }, (_, i) => `order-${i + 1}`));
  return fc.oneof(
    fc.record({ receiptId, quantity: fc.integer({ min: 1, max: maxReceipt }) }).map((c): InventoryCommand => ({ type: 'ReceiveStock', sku, ...c })),
    fc
      .record({ adjustmentId, delta: fc.oneof(fc.integer({ min: -40, max: -1 }), fc.integer({ min: 1, max: 40 })), reason: fc.constantFrom('stock count', 'damaged') })
      .map((c): InventoryCommand => ({ type: 'AdjustStock', sku, ...c })),
    {
      weight: reserveWeight,
      arbitrary: fc.record({ orderId, quantity: fc.integer({ min: 1, max: 20 }), expiresAt: timestamp }).map((c): InventoryCommand => ({ type: 'ReserveStock', sku, ...c })),
    },
    fc.record({ orderId, reason: fc.constantFrom(...releaseReasons) }).map((c): InventoryCommand => ({ type: 'ReleaseReservation', sku, ...c })),
    fc.record({ orderId }).map((c): InventoryCommand => ({ type: 'ConfirmReservation', sku, ...c })),
    fc.record({ now: timestamp }).map((c): InventoryCommand => ({ type: 'ExpireReservations', sku, ...c })),
  );
};

// size: 'max' — without it fast-check's default size keeps arrays to about ten items, whatever maxLength says.
const sequenceOf = (command: fc.Arbitrary<InventoryCommand>, maxLength: number): fc.Arbitrary<InventoryCommand[]> => fc.array(command, { maxLength, size: 'max' });

/** Ten orders competing for scarce stock: every rejection branch is hit often. */
const command = commandOf({ orders: 10, maxReceipt: 50, reserveWeight: 1 });
const commands = sequenceOf(command, 200);
/**
 * Sixteen orders, plenty of stock and mostly reservations: in about a third of the runs more than eight reservations
 * are held at once, so Immutable's map switches from its small insertion-ordered layout to its hashed one and back.
 */
const busyCommand = commandOf({ orders: 16, maxReceipt: 200, reserveWeight: 3 });
const busyCommands = sequenceOf(busyCommand, 200);
const anyCommands = fc.oneof(commands, busyCommands);

const knownRejections = new Set(['insufficient_stock', 'out_of_stock', 'reservation_mismatch', 'reservation_not_held']);

const assertInvariants = (state: InventoryState): void => {
  const available = availableOf(state);
  expect(available + state.reserved + state.sold, 'available + reserved + sold').to.equal(state.received + state.adjusted);
  expect(available, 'available').to.be.at.least(0);
  expect(state.reserved, 'reserved').to.be.at.least(0);
  expect(state.sold, 'sold').to.be.at.least(0);
  let held = 0;
  for (const r of state.reservations.values()) held += r.quantity;
  expect(state.reserved, 'reserved vs. sum of held reservations').to.equal(held);
};

/** Decides and evolves each command in turn, checking the invariants after every event; returns the state and every event. */
const run = (cmds: readonly InventoryCommand[], from: InventoryState = inventoryDecider.initialState()): { state: InventoryState; events: InventoryEvent[] } => {
  let state = from;
  const events: InventoryEvent[] = [];
  for (const cmd of cmds) {
    const decision = inventoryDecider.decide(cmd, state);
    if (!decision.ok) {
      expect(knownRejections.has(decision.rejection.code), `unexpected rejection ${decision.rejection.code}`).to.equal(true);
      continue;
    }
    for (const event of decision.events) {
      validateEvent(event); // every event must satisfy its published schema
      state = inventoryDecider.evolve(state, event);
      events.push(event);
      assertInvariants(state);
    }
  }
  return { state, events };
};

/** A snapshot with its collections in a canonical order, for comparing states whose maps were built along different paths. */
const canonical = (snap: InventorySnapshot): InventorySnapshot => ({
  ...snap,
  reservations: [...snap.reservations].sort(([a], [b]) => a.localeCompare(b)),
  receipts: [...snap.receipts].sort(),
  adjustments: [...snap.adjustments].sort(),
});

/**
 * A decision with its events in a canonical order. ExpireReservations emits its releases in the reservation map's
 * iteration order, which depends on the path that built the map (a restored map and a live one can differ once more
 * than eight reservations have been held), so only the set of events is comparable across a restore.
 */
const unordered = (decision: Decision<InventoryEvent>): Decision<InventoryEvent> =>
  decision.ok ? { ok: true, events: [...decision.events].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) } : decision;

const restore = (state: InventoryState): InventoryState => fromSnapshot(InventorySnapshotSchema.parse(JSON.parse(JSON.stringify(toSnapshot(state)))));

describe('inventory invariants (property-based)', () => {
  it('never loses or invents stock, and never lets a counter go negative, whatever the commands', () => {
    fc.assert(
      fc.property(anyCommands, (cmds) => {
        run(cmds);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rebuilds the same state by folding the events it produced', () => {
    fc.assert(
      fc.property(anyCommands, (cmds) => {
        const { state, events } = run(cmds);
        expect(toSnapshot(fold(inventoryDecider, events))).to.deep.equal(toSnapshot(state));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('decides the next command from a restored snapshot exactly as from the live state', () => {
    fc.assert(
      fc.property(anyCommands, fc.oneof(command, busyCommand), (cmds, next) => {
        const { state } = run(cmds);
        const restored = restore(state);
        expect(toSnapshot(restored)).to.deep.equal(toSnapshot(state));

        const live = inventoryDecider.decide(next, state);
        const fromSnap = inventoryDecider.decide(next, restored);
        expect(fromSnap).to.deep.equal(live);

        if (live.ok && fromSnap.ok) {
          const after = fold(inventoryDecider, live.events, state);
          const afterRestored = fold(inventoryDecider, fromSnap.events, restored);
          expect(canonical(toSnapshot(afterRestored))).to.deep.equal(canonical(toSnapshot(after)));
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('keeps deciding like the live state after a restore for a whole following sequence, up to the order of expiry releases', () => {
    fc.assert(
      fc.property(busyCommands, sequenceOf(busyCommand, 40), (history, following) => {
        let live = run(history).state;
        let restored = restore(live);
        for (const next of following) {
          const a = inventoryDecider.decide(next, live);
          const b = inventoryDecider.decide(next, restored);
          expect(unordered(b), JSON.stringify(next)).to.deep.equal(unordered(a));
          if (a.ok) live = fold(inventoryDecider, a.events, live);
          if (b.ok) restored = fold(inventoryDecider, b.events, restored);
        }
        expect(canonical(toSnapshot(restored))).to.deep.equal(canonical(toSnapshot(live)));
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
