import type { z } from 'zod';
import type { EventDefinition } from './kernel/event';
import { InventoryEvents, type InventoryEvent } from './inventory/inventory';
import { OrderEvents, type OrderEvent } from './order/order';
import { PaymentEvents, type PaymentEvent } from './payment/payment';
import { ProviderCallbackEvents, type ProviderCallbackEvent } from './payment/provider-callback';
import { ProductEvents, type ProductEvent } from './product/product';
import { SaleEvents, type SaleEvent } from './sale/sale';

export type CrestEvent = ProductEvent | InventoryEvent | OrderEvent | PaymentEvent | ProviderCallbackEvent | SaleEvent;
export type CrestEventType = CrestEvent['type'];

/** Every event type Crest writes, with its current schema version. */
export const eventDefinitions: Readonly<Record<CrestEventType, EventDefinition<string, z.ZodType>>> = {
  ...ProductEvents,
  ...InventoryEvents,
  ...OrderEvents,
  ...PaymentEvents,
  ...ProviderCallbackEvents,
  ...SaleEvents,
};

/** Validates an event's data against its current schema; throws a ZodError on a mismatch. */
export const validateEvent = <E extends CrestEvent>(event: E): E => {
  const definition = eventDefinitions[event.type];
  return { type: event.type, data: definition.schema.parse(event.data) } as E;
};
