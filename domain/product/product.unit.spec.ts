import { DeciderSpecification } from '../../test/support/decider-spec';
import { productDecider, type ProductCommand, type ProductEvent } from './product';

const sku = 'TEE-001';
const spec = DeciderSpecification.for(productDecider);

const upsert = (overrides: Partial<Omit<Extract<ProductCommand, { type: 'UpsertProduct' }>, 'type' | 'sku'>> = {}): ProductCommand => ({
  type: 'UpsertProduct',
  sku,
  name: 'Crest tee',
  category: 'Apparel',
  priceCents: 2500,
  description: 'A soft cotton tee',
  ...overrides,
});

const listed: ProductEvent = {
  type: 'ProductListed',
  data: { sku, name: 'Crest tee', category: 'Apparel', priceCents: 2500, description: 'A soft cotton tee' },
};
const delisted: ProductEvent = { type: 'ProductDelisted', data: { sku } };

describe('product decider', () => {
  describe('upserting a product', () => {
    it('lists a product that has never been seen', () =>
      spec.given([]).when(upsert()).then([listed]));

    it('records new details when name, category or description change', () =>
      spec
        .given([listed])
        .when(upsert({ name: 'Crest tee v2', category: 'Tops', description: 'Now organic' }))
        .then([{ type: 'ProductDetailsChanged', data: { sku, name: 'Crest tee v2', category: 'Tops', description: 'Now organic' } }]));

    it('records a change of description alone as a details change', () =>
      spec
        .given([listed])
        .when(upsert({ description: 'Heavier cotton' }))
        .then([{ type: 'ProductDetailsChanged', data: { sku, name: 'Crest tee', category: 'Apparel', description: 'Heavier cotton' } }]));

    it('records a price change together with the previous price', () =>
      spec
        .given([listed])
        .when(upsert({ priceCents: 1999 }))
        .then([{ type: 'PriceChanged', data: { sku, priceCents: 1999, previousPriceCents: 2500 } }]));

    it('takes the previous price from the latest price change', () =>
      spec
        .given([listed, { type: 'PriceChanged', data: { sku, priceCents: 1999, previousPriceCents: 2500 } }])
        .when(upsert({ priceCents: 1500 }))
        .then([{ type: 'PriceChanged', data: { sku, priceCents: 1500, previousPriceCents: 1999 } }]));

    it('records both a details change and a price change when both differ, details first', () =>
      spec
        .given([listed])
        .when(upsert({ name: 'Crest tee v2', priceCents: 3000 }))
        .then([
          { type: 'ProductDetailsChanged', data: { sku, name: 'Crest tee v2', category: 'Apparel', description: 'A soft cotton tee' } },
          { type: 'PriceChanged', data: { sku, priceCents: 3000, previousPriceCents: 2500 } },
        ]));

    it('changes nothing when the product is upserted unchanged', () =>
      spec.given([listed]).when(upsert()).thenNothing());

    it('changes nothing when details are upserted again after they were changed', () =>
      spec
        .given([listed, { type: 'ProductDetailsChanged', data: { sku, name: 'Crest tee v2', category: 'Apparel', description: 'A soft cotton tee' } }])
        .when(upsert({ name: 'Crest tee v2' }))
        .thenNothing());

    it('lists a delisted product again, even with unchanged details', () =>
      spec.given([listed, delisted]).when(upsert()).then([listed]));

    it('lists a delisted product again with its new details and price', () =>
      spec
        .given([listed, delisted])
        .when(upsert({ name: 'Crest tee v2', priceCents: 3000 }))
        .then([{ type: 'ProductListed', data: { sku, name: 'Crest tee v2', category: 'Apparel', priceCents: 3000, description: 'A soft cotton tee' } }]));

    it('treats a relisted product as listed again', () =>
      spec.given([listed, delisted, listed]).when(upsert()).thenNothing());
  });

  describe('delisting a product', () => {
    it('delists a listed product', () =>
      spec.given([listed]).when({ type: 'DelistProduct', sku }).then([delisted]));

    it('rejects delisting a product that was never listed', () =>
      spec.given([]).when({ type: 'DelistProduct', sku }).thenRejects('unknown_sku'));

    it('changes nothing when a product is delisted twice', () =>
      spec.given([listed, delisted]).when({ type: 'DelistProduct', sku }).thenNothing());

    it('delists a product that was relisted', () =>
      spec.given([listed, delisted, listed]).when({ type: 'DelistProduct', sku }).then([delisted]));
  });
});
