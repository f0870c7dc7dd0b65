import { expect } from 'chai';
import { DeciderSpecification } from '../../test/support/decider-spec';
import { saleDecider, saleStatusAt, type SaleCommand, type SaleEvent, type SaleTerms } from './sale';

const spec = DeciderSpecification.for(saleDecider);

const terms: SaleTerms = { saleId: 'midnight', sku: 'SNEAKER-1', priceCents: 4900, startsAt: '2026-11-12T00:00:00.000Z', endsAt: '2026-11-12T01:00:00.000Z', perCustomerLimit: 1 };
const schedule = (over: Partial<SaleTerms> = {}): SaleCommand => ({ type: 'ScheduleSale', ...terms, ...over });
const scheduled = (over: Partial<SaleTerms> = {}): SaleEvent => ({ type: 'SaleScheduled', data: { ...terms, ...over } });
const changed = (over: Partial<SaleTerms> = {}): SaleEvent => ({ type: 'SaleChanged', data: { ...terms, ...over } });
const cancelled: SaleEvent = { type: 'SaleCancelled', data: { saleId: 'midnight', sku: 'SNEAKER-1' } };

describe('sale decider', () => {
  describe('listing a sale', () => {
    it('schedules a new sale', () => spec.given([]).when(schedule()).then([scheduled()]));

    it('writes nothing for an unchanged PUT', () => spec.given([scheduled()]).when(schedule()).thenNothing());

    it('writes nothing for the same instants written differently', () => spec.given([scheduled()]).when(schedule({ startsAt: '2026-11-12T00:00:00Z' })).thenNothing());

    it('refuses a window that does not start before it ends', () => spec.given([]).when(schedule({ endsAt: terms.startsAt })).thenRejects('invalid_sale_window'));
  });

  describe('changing a sale', () => {
    it('records a new price, window or limit', () => spec.given([scheduled()]).when(schedule({ perCustomerLimit: 2 })).then([changed({ perCustomerLimit: 2 })]));

    it('refuses moving a sale to another SKU', () => spec.given([scheduled()]).when(schedule({ sku: 'OTHER-1' })).thenRejects('sale_sku_changed'));

    it('schedules a cancelled sale again as a new one', () => spec.given([scheduled(), cancelled]).when(schedule()).then([scheduled()]));
  });

  describe('cancelling a sale', () => {
    it('cancels a sale', () => spec.given([scheduled()]).when({ type: 'CancelSale', saleId: 'midnight' }).then([cancelled]));

    it('writes nothing when cancelled again', () => spec.given([scheduled(), cancelled]).when({ type: 'CancelSale', saleId: 'midnight' }).thenNothing());

    it('refuses an unknown sale', () => spec.given([]).when({ type: 'CancelSale', saleId: 'midnight' }).thenRejects('unknown_sale'));
  });

  describe('status by the clock', () => {
    const at = (iso: string) => Date.parse(iso);
    it('is scheduled before, live during, ended from the end, and cancelled whenever cancelled', () => {
      const sale = { cancelled: false, startsAt: terms.startsAt, endsAt: terms.endsAt };
      expect(saleStatusAt(sale, at('2026-11-11T23:59:59.999Z'))).to.equal('scheduled');
      expect(saleStatusAt(sale, at(terms.startsAt))).to.equal('live');
      expect(saleStatusAt(sale, at(terms.endsAt))).to.equal('ended');
      expect(saleStatusAt({ ...sale, cancelled: true }, at(terms.startsAt))).to.equal('cancelled');
    });
  });
});
