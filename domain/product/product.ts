import { z } from 'zod';
import { accept, assertNever, reject, unchanged, type Decider, type Decision } from '../kernel/decider';
import { defineEvent, skuSchema, type EventOf } from '../kernel/event';

export const productName = z.string().trim().min(1).max(200);
export const productCategory = z.string().trim().min(1).max(64).regex(/^[\p{L}\p{N}][\p{L}\p{N} &._-]*$/u, 'a category is letters, digits, spaces and & . _ -');
export const priceCents = z.number().int().min(0).max(100_000_000_00);
export const productDescription = z.string().max(4000);

export const ProductEvents = {
  /** Version 2 added `description` (see domain/upcasters.ts for version 1). */
  ProductListed: defineEvent('ProductListed', z.object({ sku: skuSchema, name: productName, category: productCategory, priceCents, description: productDescription }), 2),
  ProductDetailsChanged: defineEvent('ProductDetailsChanged', z.object({ sku: skuSchema, name: productName, category: productCategory, description: productDescription })),
  PriceChanged: defineEvent('PriceChanged', z.object({ sku: skuSchema, priceCents, previousPriceCents: priceCents })),
  ProductDelisted: defineEvent('ProductDelisted', z.object({ sku: skuSchema })),
};
export type ProductEvent = EventOf<(typeof ProductEvents)[keyof typeof ProductEvents]>;

export type ProductCommand =
  | { readonly type: 'UpsertProduct'; readonly sku: string; readonly name: string; readonly category: string; readonly priceCents: number; readonly description: string }
  | { readonly type: 'DelistProduct'; readonly sku: string };

export interface ProductState {
  readonly status: 'none' | 'listed' | 'delisted';
  readonly name: string;
  readonly category: string;
  readonly priceCents: number;
  readonly description: string;
}

const initialState = (): ProductState => ({ status: 'none', name: '', category: '', priceCents: 0, description: '' });

const decide = (command: ProductCommand, state: ProductState): Decision<ProductEvent> => {
  switch (command.type) {
    case 'UpsertProduct': {
      const { sku, name, category, priceCents: price, description } = command;
      if (state.status !== 'listed') {
        return accept({ type: 'ProductListed', data: { sku, name, category, priceCents: price, description } });
      }
      const events: ProductEvent[] = [];
      if (name !== state.name || category !== state.category || description !== state.description) {
        events.push({ type: 'ProductDetailsChanged', data: { sku, name, category, description } });
      }
      if (price !== state.priceCents) {
        events.push({ type: 'PriceChanged', data: { sku, priceCents: price, previousPriceCents: state.priceCents } });
      }
      return events.length === 0 ? unchanged() : accept(...events);
    }
    case 'DelistProduct':
      if (state.status === 'none') return reject('unknown_sku', `No product is listed as ${command.sku}`, { sku: command.sku });
      if (state.status === 'delisted') return unchanged();
      return accept({ type: 'ProductDelisted', data: { sku: command.sku } });
    default:
      return assertNever(command);
  }
};

const evolve = (state: ProductState, event: ProductEvent): ProductState => {
  switch (event.type) {
    case 'ProductListed':
      return { status: 'listed', name: event.data.name, category: event.data.category, priceCents: event.data.priceCents, description: event.data.description };
    case 'ProductDetailsChanged':
      return { ...state, name: event.data.name, category: event.data.category, description: event.data.description };
    case 'PriceChanged':
      return { ...state, priceCents: event.data.priceCents };
    case 'ProductDelisted':
      return { ...state, status: 'delisted' };
    default:
      return assertNever(event);
  }
};

export const productDecider: Decider<ProductCommand, ProductEvent, ProductState> = { initialState, decide, evolve };
