import { expect } from 'chai';
import fc from 'fast-check';
import { fold } from '../kernel/decider';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { availableOf, fromSnapshot, inventoryDecider, InventorySnapshotSchema, toSnapshot, type InventoryCommand, type InventoryEvent, type InventoryState } from './inventory';

const sku = 'SNEAKER-1';
const spec = DeciderSpecification.for(inventoryDecider);

const BEFORE = '2026-11-11T23:59:00.000Z';
const OPEN = '2026-11-12T00:00:00.000Z';
const DURING = '2026-11-12T00:05:00.000Z';
const CLOSE = '2026-11-12T01:00:00.000Z';
const AFTER = '2026-11-12T01:00:01.000Z';
const TTL = '2026-11-12T00:15:00.000Z';

const received = (quantity: number): InventoryEvent => ({ type: 'StockReceived', data: { sku, receiptId: 'rcpt-1', quantity } });
const planned = (saleId = 'midnight', startsAt = OPEN, endsAt = CLOSE, perCustomerLimit = 1, priceCents = 4900): InventoryEvent => ({
  type: 'SalePlanned',
  data: { sku, saleId, priceCents, startsAt, endsAt, perCustomerLimit },
});
const plan = (saleId = 'midnight', startsAt = OPEN, endsAt = CLOSE, perCustomerLimit = 1, priceCents = 4900): InventoryCommand => ({
  type: 'PlanSale',
  sku,
  saleId,
  priceCents,
  startsAt,
  endsAt,
  perCustomerLimit,
});
const reserve = (orderId: string, customerId: string, quantity: number, at: string): InventoryCommand => ({ type: 'ReserveStock', sku, orderId, quantity, expiresAt: TTL, customerId, at });
const reservedInSale = (orderId: string, customerId: string, quantity: number, saleId = 'midnight', priceCents = 4900): InventoryEvent => ({
  type: 'StockReserved',
  data: { sku, orderId, quantity, expiresAt: TTL, saleId, customerId, priceCents },
});
const reservedPlain = (orderId: string, quantity: number): InventoryEvent => ({ type: 'StockReserved', data: { sku, orderId, quantity, expiresAt: TTL } });
const released = (orderId: string, quantity: number): InventoryEvent => ({ type: 'ReservationReleased', data: { sku, orderId, quantity, reason: 'cancelled' } });
const confirmed = (orderId: string, quantity: number): InventoryEvent => ({ type: 'ReservationConfirmed', data: { sku, orderId, quantity } });

describe('inventory decider: flash sales', () => {
  describe('planning a sale on the SKU', () => {
    it('records a new sale', () => spec.given([received(500)]).when(plan()).then([planned()]));

    it('writes nothing when the same sale is planned again', () => spec.given([received(500), planned()]).when(plan()).thenNothing());

    it('records a change of price, window or limit', () => spec.given([planned()]).when(plan('midnight', OPEN, CLOSE, 2)).then([planned('midnight', OPEN, CLOSE, 2)]));

    it('refuses a window that overlaps another sale of the SKU', () => spec.given([planned()]).when(plan('late', DURING, AFTER)).thenRejects('sale_overlaps'));

    it('accepts a window that starts when another one ends', () => spec.given([planned()]).when(plan('next', CLOSE, AFTER)).then([planned('next', CLOSE, AFTER)]));

    it('accepts a window that overlaps a withdrawn sale', () =>
      spec.given([planned(), { type: 'SaleWithdrawn', data: { sku, saleId: 'midnight' } }]).when(plan('late', DURING, AFTER)).then([planned('late', DURING, AFTER)]));

    it('refuses a window that ends before it starts', () => spec.given([]).when(plan('midnight', CLOSE, OPEN)).thenRejects('invalid_sale_window'));

    it('withdraws a sale once, then writes nothing', () => {
      spec.given([planned()]).when({ type: 'WithdrawSale', sku, saleId: 'midnight' }).then([{ type: 'SaleWithdrawn', data: { sku, saleId: 'midnight' } }]);
      spec.given([planned(), { type: 'SaleWithdrawn', data: { sku, saleId: 'midnight' } }]).when({ type: 'WithdrawSale', sku, saleId: 'midnight' }).thenNothing();
    });
  });

  describe('before, during and after the window', () => {
    it('refuses a line before the sale starts, and reserves nothing', () => spec.given([received(500), planned()]).when(reserve('o1', 'ann', 1, BEFORE)).thenRejects('sale_not_started'));

    it('reserves at the sale price during the window, naming the sale and the customer', () =>
      spec.given([received(500), planned()]).when(reserve('o1', 'ann', 1, DURING)).then([reservedInSale('o1', 'ann', 1)]));

    it('reserves at the opening instant itself', () => spec.given([received(500), planned()]).when(reserve('o1', 'ann', 1, OPEN)).then([reservedInSale('o1', 'ann', 1)]));

    it('reserves at list price, with no limit, from the end of the window', () =>
      spec.given([received(500), planned(), reservedInSale('o1', 'ann', 1)]).when(reserve('o2', 'ann', 3, CLOSE)).then([reservedPlain('o2', 3)]));

    it('sells at list price when no sale governs the SKU', () => spec.given([received(500)]).when(reserve('o1', 'ann', 5, DURING)).then([reservedPlain('o1', 5)]));

    it('reserves without a sale once the sale is withdrawn', () =>
      spec.given([received(500), planned(), { type: 'SaleWithdrawn', data: { sku, saleId: 'midnight' } }]).when(reserve('o1', 'ann', 1, BEFORE)).then([reservedPlain('o1', 1)]));
  });

  describe('the limit per customer', () => {
    it('refuses a line that would take the customer past the limit', () =>
      spec.given([received(500), planned('midnight', OPEN, CLOSE, 2), reservedInSale('o1', 'ann', 2)]).when(reserve('o2', 'ann', 1, DURING)).thenRejects('purchase_limit_exceeded'));

    it('refuses one line of more units than the limit', () => spec.given([received(500), planned('midnight', OPEN, CLOSE, 2)]).when(reserve('o1', 'ann', 3, DURING)).thenRejects('purchase_limit_exceeded'));

    it('counts confirmed units', () =>
      spec.given([received(500), planned(), reservedInSale('o1', 'ann', 1), confirmed('o1', 1)]).when(reserve('o2', 'ann', 1, DURING)).thenRejects('purchase_limit_exceeded'));

    it('frees the units of a released order', () =>
      spec.given([received(500), planned(), reservedInSale('o1', 'ann', 1), released('o1', 1)]).when(reserve('o2', 'ann', 1, DURING)).then([reservedInSale('o2', 'ann', 1)]));

    it('counts each customer on their own', () => spec.given([received(500), planned(), reservedInSale('o1', 'ann', 1)]).when(reserve('o2', 'bob', 1, DURING)).then([reservedInSale('o2', 'bob', 1)]));

    it('answers the same order again without counting it twice', () => spec.given([received(500), planned(), reservedInSale('o1', 'ann', 1)]).when(reserve('o1', 'ann', 1, DURING)).thenNothing());

    it('refuses a line priced in another sale than the one the writer judges live', () =>
      spec.given([received(500), planned()]).when({ ...reserve('o1', 'ann', 1, AFTER), pricedInSale: 'midnight' } as InventoryCommand).thenRejects('sale_changed'));

    it('refuses a line priced at list price while a sale is live', () =>
      spec.given([received(500), planned()]).when({ ...reserve('o1', 'ann', 1, DURING), pricedInSale: null } as InventoryCommand).thenRejects('sale_changed'));

    it('refuses out of stock after the limit check passes', () => spec.given([received(0), planned()]).when(reserve('o1', 'ann', 1, DURING)).thenRejects('out_of_stock'));
  });

  describe('snapshots', () => {
    it('keep the sales and what every customer holds in them', () => {
      const state = fold(inventoryDecider, [received(500), planned('midnight', OPEN, CLOSE, 2), reservedInSale('o1', 'ann', 1), reservedInSale('o2', 'bob', 2), released('o2', 2)]);
      const restored = fromSnapshot(InventorySnapshotSchema.parse(JSON.parse(JSON.stringify(toSnapshot(state)))));
      expect(inventoryDecider.decide(reserve('o3', 'ann', 2, DURING), restored)).to.deep.equal(inventoryDecider.decide(reserve('o3', 'ann', 2, DURING), state));
      expect(inventoryDecider.decide(reserve('o4', 'bob', 2, DURING), restored)).to.deep.equal(inventoryDecider.decide(reserve('o4', 'bob', 2, DURING), state));
      expect(toSnapshot(restored)).to.deep.equal(toSnapshot(state));
    });

    it('load a snapshot from before sales with none', () => {
      const old = { received: 5, adjusted: 0, reserved: 0, sold: 0, reservations: [], confirmed: [], receipts: ['r'], adjustments: [] };
      const state = fromSnapshot(InventorySnapshotSchema.parse(old));
      expect(state.sales.size).to.equal(0);
      expect(state.holdings.size).to.equal(0);
    });
  });

  describe('property: random orders, cancels, confirmations and expiries against a limit', () => {
    const customers = ['ann', 'bob', 'cid', 'dee'];
    const minute = (m: number) => new Date(Date.parse(OPEN) + m * 60_000).toISOString();
    const step = fc.oneof(
      fc.record({ kind: fc.constant('reserve' as const), order: fc.integer({ min: 1, max: 30 }), customer: fc.constantFrom(...customers), quantity: fc.integer({ min: 1, max: 3 }), ttl: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('cancel' as const), order: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant('confirm' as const), order: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant('expire' as const) }),
    );

    it('never lets a customer hold more than the limit, never oversells, and keeps the stock invariant', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 40 }), fc.array(step, { maxLength: 120 }), (limit, stock, steps) => {
          let state: InventoryState = fold(inventoryDecider, [received(stock), planned('midnight', OPEN, CLOSE, limit)]);
          const owner = new Map<string, string>();
          steps.forEach((s, i) => {
            const now = minute(Math.min(59, Math.floor(i / 2)));
            let command: InventoryCommand;
            if (s.kind === 'reserve') {
              const orderId = `o${s.order}`;
              // an order id belongs to one customer, as ids derived from the customer and a key do
              const customer = owner.get(orderId) ?? s.customer;
              owner.set(orderId, customer);
              command = { type: 'ReserveStock', sku, orderId, quantity: s.quantity, expiresAt: minute(Math.floor(i / 2) + s.ttl), customerId: customer, at: now };
            } else if (s.kind === 'cancel') command = { type: 'ReleaseReservation', sku, orderId: `o${s.order}`, reason: 'cancelled' };
            else if (s.kind === 'confirm') command = { type: 'ConfirmReservation', sku, orderId: `o${s.order}` };
            else command = { type: 'ExpireReservations', sku, now };
            const decision = inventoryDecider.decide(command, state);
            if (decision.ok) state = fold(inventoryDecider, decision.events, state);
            // what each customer holds, recounted from the reservations and confirmations the state remembers
            for (const customer of customers) {
              const held = state.holdings.get('midnight')?.get(customer) ?? 0;
              expect(held, `${customer} holds ${held} > limit ${limit}`).to.be.at.most(limit);
              const reservedNow = [...state.reservations.values()].filter((r) => r.customerId === customer).reduce((n, r) => n + r.quantity, 0);
              expect(held).to.be.at.least(reservedNow);
            }
            expect(availableOf(state)).to.be.at.least(0);
            expect(availableOf(state) + state.reserved + state.sold).to.equal(state.received + state.adjusted);
          });
        }),
        { numRuns: 300 },
      );
    });
  });
});
