import { expect } from 'chai';
import { fold } from '../kernel/decider';
import { DeciderSpecification } from '../../test/support/decider-spec';
import {
  availableOf,
  fromSnapshot,
  inventoryDecider,
  InventorySnapshotSchema,
  nextExpiry,
  toSnapshot,
  type InventoryCommand,
  type InventoryEvent,
  type ReleaseReason,
} from './inventory';

const sku = 'TEE-001';
const spec = DeciderSpecification.for(inventoryDecider);

const T0 = '2025-06-01T10:00:00.000Z';
const T5 = '2025-06-01T10:05:00.000Z';
const T10 = '2025-06-01T10:10:00.000Z';
const T15 = '2025-06-01T10:15:00.000Z';

const received = (quantity: number, receiptId = 'rcpt-1'): InventoryEvent => ({ type: 'StockReceived', data: { sku, receiptId, quantity } });
const adjusted = (delta: number, adjustmentId = 'adj-1', reason = 'stock count'): InventoryEvent => ({
  type: 'StockAdjusted',
  data: { sku, adjustmentId, delta, reason },
});
const reserved = (orderId: string, quantity: number, expiresAt = T10): InventoryEvent => ({ type: 'StockReserved', data: { sku, orderId, quantity, expiresAt } });
const released = (orderId: string, quantity: number, reason: ReleaseReason = 'cancelled'): InventoryEvent => ({
  type: 'ReservationReleased',
  data: { sku, orderId, quantity, reason },
});
const confirmed = (orderId: string, quantity: number): InventoryEvent => ({ type: 'ReservationConfirmed', data: { sku, orderId, quantity } });

const receive = (quantity: number, receiptId = 'rcpt-1'): InventoryCommand => ({ type: 'ReceiveStock', sku, receiptId, quantity });
const adjust = (delta: number, adjustmentId = 'adj-1', reason = 'stock count'): InventoryCommand => ({ type: 'AdjustStock', sku, adjustmentId, delta, reason });
const reserve = (orderId: string, quantity: number, expiresAt = T10): InventoryCommand => ({ type: 'ReserveStock', sku, orderId, quantity, expiresAt });
const release = (orderId: string, reason: ReleaseReason = 'cancelled'): InventoryCommand => ({ type: 'ReleaseReservation', sku, orderId, reason });
const confirm = (orderId: string): InventoryCommand => ({ type: 'ConfirmReservation', sku, orderId });
const expire = (now: string): InventoryCommand => ({ type: 'ExpireReservations', sku, now });

describe('inventory decider', () => {
  describe('receiving stock', () => {
    it('records received stock', () => spec.given([]).when(receive(10)).then([received(10)]));

    it('records a second receipt with a different id', () => spec.given([received(10)]).when(receive(5, 'rcpt-2')).then([received(5, 'rcpt-2')]));

    it('changes nothing when a receipt id is received again', () => spec.given([received(10)]).when(receive(10)).thenNothing());

    it('changes nothing when a receipt id is received again with another quantity', () => spec.given([received(10)]).when(receive(99)).thenNothing());
  });

  describe('adjusting stock', () => {
    it('adjusts stock up', () => spec.given([received(10)]).when(adjust(3)).then([adjusted(3)]));

    it('adjusts stock up from nothing', () => spec.given([]).when(adjust(3)).then([adjusted(3)]));

    it('adjusts stock down within what is available', () => spec.given([received(10)]).when(adjust(-4)).then([adjusted(-4)]));

    it('adjusts stock down to exactly zero available', () => spec.given([received(10)]).when(adjust(-10)).then([adjusted(-10)]));

    it('rejects an adjustment that would take available stock below zero', () => spec.given([received(10)]).when(adjust(-11)).thenRejects('insufficient_stock'));

    it('counts reserved and sold stock as unavailable when adjusting down', () =>
      spec
        .given([received(10), reserved('order-1', 4), reserved('order-2', 3), confirmed('order-2', 3)])
        .when(adjust(-4))
        .thenRejects('insufficient_stock'));

    it('changes nothing when an adjustment id is applied again', () => spec.given([received(10), adjusted(-4)]).when(adjust(-4)).thenNothing());

    it('changes nothing for a replayed adjustment even when it could no longer be applied', () =>
      spec.given([received(10), adjusted(-8)]).when(adjust(-8)).thenNothing());
  });

  describe('reserving stock', () => {
    it('reserves available stock for an order', () => spec.given([received(10)]).when(reserve('order-1', 4)).then([reserved('order-1', 4)]));

    it('reserves every last available unit', () =>
      spec.given([received(10), adjusted(-2), reserved('order-1', 5)]).when(reserve('order-2', 3)).then([reserved('order-2', 3)]));

    it('rejects a reservation larger than what is available', () => spec.given([received(10)]).when(reserve('order-1', 11)).thenRejects('out_of_stock'));

    it('rejects a reservation when nothing was ever received', () => spec.given([]).when(reserve('order-1', 1)).thenRejects('out_of_stock'));

    it('rejects a reservation that only fits if other orders’ reservations and sales are ignored', () =>
      spec
        .given([received(10), reserved('order-1', 4), reserved('order-2', 3), confirmed('order-2', 3)])
        .when(reserve('order-3', 4))
        .thenRejects('out_of_stock'));

    it('changes nothing when an order reserves the same quantity again', () =>
      spec.given([received(10), reserved('order-1', 4)]).when(reserve('order-1', 4)).thenNothing());

    it('changes nothing when an order re-reserves the same quantity even though stock has run out since', () =>
      spec.given([received(4), reserved('order-1', 4)]).when(reserve('order-1', 4)).thenNothing());

    it('rejects a second reservation by the same order for a different quantity', () =>
      spec.given([received(10), reserved('order-1', 4)]).when(reserve('order-1', 5)).thenRejects('reservation_mismatch'));

    it('reserves again for an order whose reservation was released', () =>
      spec.given([received(10), reserved('order-1', 4), released('order-1', 4)]).when(reserve('order-1', 6)).then([reserved('order-1', 6)]));

    it('reserves again for an order whose reservation expired', () =>
      spec
        .given([received(10), reserved('order-1', 4), released('order-1', 4, 'expired')])
        .when(reserve('order-1', 4, T15))
        .then([reserved('order-1', 4, T15)]));
  });

  describe('releasing a reservation', () => {
    it('releases the quantity the order holds, with the given reason', () =>
      spec.given([received(10), reserved('order-1', 4)]).when(release('order-1', 'payment_failed')).then([released('order-1', 4, 'payment_failed')]));

    it('changes nothing when the order holds no reservation', () => spec.given([received(10), reserved('order-1', 4)]).when(release('order-2')).thenNothing());

    it('changes nothing when a reservation is released twice', () =>
      spec.given([received(10), reserved('order-1', 4), released('order-1', 4)]).when(release('order-1')).thenNothing());

    it('changes nothing when releasing a reservation that was already confirmed', () =>
      spec.given([received(10), reserved('order-1', 4), confirmed('order-1', 4)]).when(release('order-1')).thenNothing());
  });

  describe('confirming a reservation', () => {
    it('confirms the quantity the order holds', () =>
      spec.given([received(10), reserved('order-1', 4)]).when(confirm('order-1')).then([confirmed('order-1', 4)]));

    it('rejects confirming an order that holds no reservation', () => spec.given([received(10)]).when(confirm('order-1')).thenRejects('reservation_not_held'));

    it('rejects confirming a reservation that was released', () =>
      spec.given([received(10), reserved('order-1', 4), released('order-1', 4, 'expired')]).when(confirm('order-1')).thenRejects('reservation_not_held'));
  });

  describe('expiring reservations', () => {
    it('releases only the reservations that are due, as expired', () =>
      spec
        .given([received(20), reserved('order-1', 2, T5), reserved('order-2', 3, T15), reserved('order-3', 4, T10)])
        .when(expire(T10))
        .then([released('order-1', 2, 'expired'), released('order-3', 4, 'expired')]));

    it('changes nothing when no reservation is due', () =>
      spec.given([received(20), reserved('order-1', 2, T10)]).when(expire(T5)).thenNothing());

    it('changes nothing when nothing is held', () => spec.given([received(20)]).when(expire(T15)).thenNothing());

    it('does not expire reservations that were already confirmed or released, and forgets due confirmations', () =>
      spec
        .given([received(20), reserved('order-1', 2, T5), confirmed('order-1', 2), reserved('order-2', 3, T5), released('order-2', 3), reserved('order-3', 1, T5)])
        .when(expire(T10))
        .then([released('order-3', 1, 'expired'), { type: 'ConfirmationsPruned', data: { sku, before: T10 } }]));

    it('treats a repeated confirmation as done while the sale is remembered', () =>
      spec.given([received(5), reserved('order-1', 2, T10), confirmed('order-1', 2)]).when(confirm('order-1')).thenNothing());

    it('does not reserve again for an order whose reservation was already sold', () =>
      spec.given([received(5), reserved('order-1', 2, T10), confirmed('order-1', 2)]).when(reserve('order-1', 2, T15)).thenNothing());

    it('refuses a repeated confirmation once the sale has been forgotten', () =>
      spec
        .given([received(5), reserved('order-1', 2, T5), confirmed('order-1', 2), { type: 'ConfirmationsPruned', data: { sku, before: T10 } }])
        .when(confirm('order-1'))
        .thenRejects('reservation_not_held'));
  });

  describe('state', () => {
    it('keeps reserved and sold stock out of what is available', () => {
      const state = fold(inventoryDecider, [received(10), adjusted(2), reserved('order-1', 4), reserved('order-2', 3), confirmed('order-2', 3)]);
      expect({ available: availableOf(state), reserved: state.reserved, sold: state.sold }).to.deep.equal({ available: 5, reserved: 4, sold: 3 });
    });

    it('returns released stock to what is available', () => {
      const state = fold(inventoryDecider, [received(10), reserved('order-1', 4), released('order-1', 4)]);
      expect({ available: availableOf(state), reserved: state.reserved }).to.deep.equal({ available: 10, reserved: 0 });
    });
  });

  describe('nextExpiry', () => {
    it('is undefined when nothing is held', () => {
      expect(nextExpiry(fold(inventoryDecider, [received(10)]))).to.equal(undefined);
    });

    it('is the earliest deadline among held reservations', () => {
      expect(nextExpiry(fold(inventoryDecider, [received(10), reserved('order-1', 1, T10), reserved('order-2', 1, T5), reserved('order-3', 1, T15)]))).to.equal(T5);
    });

    it('ignores released reservations, and counts a confirmed one until its confirmation is forgotten', () => {
      const state = fold(inventoryDecider, [received(10), reserved('order-1', 1, T5), reserved('order-2', 1, T0), reserved('order-3', 1, T15), confirmed('order-1', 1), released('order-2', 1)]);
      expect(nextExpiry(state)).to.equal(T5);
      const pruned = fold(inventoryDecider, [{ type: 'ConfirmationsPruned', data: { sku, before: T10 } }], state);
      expect(nextExpiry(pruned)).to.equal(T15);
    });

    it('is undefined once every reservation has expired', () => {
      const state = fold(inventoryDecider, [received(10), reserved('order-1', 1, T5), released('order-1', 1, 'expired')]);
      expect(nextExpiry(state)).to.equal(undefined);
    });
  });

  describe('snapshots', () => {
    const history = [
      received(10),
      received(5, 'rcpt-2'),
      adjusted(-2),
      adjusted(1, 'adj-2', 'found in back room'),
      reserved('order-1', 3, T5),
      reserved('order-2', 2, T10),
      reserved('order-3', 1, T15),
      confirmed('order-2', 2),
      released('order-3', 1, 'cancelled'),
    ];

    it('captures every counter, reservation and processed id', () => {
      expect(toSnapshot(fold(inventoryDecider, history))).to.deep.equal({
        received: 15,
        adjusted: -1,
        reserved: 3,
        sold: 2,
        reservations: [['order-1', { quantity: 3, expiresAt: T5 }]],
        confirmed: [['order-2', T10]],
        receipts: ['rcpt-1', 'rcpt-2'],
        adjustments: ['adj-1', 'adj-2'],
        sales: [],
        holdings: [],
      });
    });

    it('round-trips through JSON and the snapshot schema unchanged', () => {
      const state = fold(inventoryDecider, history);
      const restored = fromSnapshot(InventorySnapshotSchema.parse(JSON.parse(JSON.stringify(toSnapshot(state)))));
      expect(toSnapshot(restored)).to.deep.equal(toSnapshot(state));
      expect(availableOf(restored)).to.equal(availableOf(state));
      expect(nextExpiry(restored)).to.equal(nextExpiry(state));
    });

    it('round-trips the initial state', () => {
      const initial = inventoryDecider.initialState();
      expect(toSnapshot(fromSnapshot(toSnapshot(initial)))).to.deep.equal(toSnapshot(initial));
    });

    it('decides from a restored state exactly as from the original', () => {
      const state = fold(inventoryDecider, history);
      const restored = fromSnapshot(toSnapshot(state));
      const commands = [receive(1), receive(1, 'rcpt-3'), adjust(5), adjust(-13, 'adj-3'), reserve('order-1', 3), reserve('order-1', 4), reserve('order-4', 10), reserve('order-4', 11), release('order-1'), confirm('order-1'), confirm('order-2'), expire(T15)];
      for (const command of commands) {
        expect(inventoryDecider.decide(command, restored), command.type).to.deep.equal(inventoryDecider.decide(command, state));
      }
    });
  });
});
