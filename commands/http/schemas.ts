import { z } from 'zod';
import { identifier, orderIdSchema, skuSchema } from '../../domain/kernel/event';
import { priceCents, productCategory, productDescription, productName } from '../../domain/product/product';

export const SkuParams = z.strictObject({ sku: skuSchema });
export const OrderParams = z.strictObject({ id: orderIdSchema });

export const PutProductBody = z.strictObject({
  name: productName,
  category: productCategory,
  priceCents,
  description: productDescription.optional(),
});

export const ReceiptBody = z.strictObject({
  quantity: z.number().int().min(1).max(1_000_000),
  receiptId: identifier,
});

export const AdjustmentBody = z.strictObject({
  // two ranges rather than a refinement, so that the document says it too: never zero
  delta: z.union([z.number().int().min(-1_000_000).max(-1), z.number().int().min(1).max(1_000_000)], { error: 'delta must be a whole number from -1000000 to 1000000, not zero' }),
  reason: z.string().trim().min(1).max(200),
  adjustmentId: identifier,
});

export const PlaceOrderHeaders = z.object({
  'idempotency-key': z.string().regex(/^[\x21-\x7e]{8,128}$/, 'Idempotency-Key must be 8-128 visible ASCII characters'),
});

export const PlaceOrderBody = z.strictObject({
  customerId: identifier,
  lines: z
    .array(z.strictObject({ sku: skuSchema, quantity: z.number().int().min(1).max(100) }))
    .min(1)
    .max(20)
    .refine((lines) => new Set(lines.map((l) => l.sku)).size === lines.length, 'each SKU may appear on one line only')
    .describe('One line per SKU: two lines of the same SKU are refused with 400 validation_failed'),
});

export const PositionResponse = z.object({ sku: z.string(), position: z.number().int() });
export const ReceiptResponse = z.object({ sku: z.string(), received: z.number().int(), available: z.number().int(), position: z.number().int() });
export const AdjustmentResponse = z.object({ sku: z.string(), adjusted: z.number().int(), available: z.number().int(), position: z.number().int() });
export const OrderPlacedResponse = z.object({
  orderId: z.string(),
  status: z.string(),
  totalCents: z.number().int().optional(),
  expiresAt: z.string().optional(),
  position: z.number().int().optional(),
});
export const CancelResponse = z.object({ orderId: z.string(), status: z.literal('cancelled'), position: z.number().int() });

export const PaymentBody = z.strictObject({ paymentToken: z.string().min(1).max(200) });
export const PaymentResponse = z.object({ orderId: z.string(), status: z.string(), paymentId: z.string(), position: z.number().int() });

export const WebhookBody = z.object({
  id: z.string().min(1).max(200),
  type: z.enum(['payment.captured', 'payment.failed', 'payment.refunded']),
  paymentId: z.string().min(1).max(200),
  orderId: orderIdSchema,
  amountCents: z.number().int().min(0),
  reason: z.string().max(200).optional(),
});
export const WebhookResponse = z.object({ received: z.literal(true), recorded: z.boolean() });

export const SaleParams = z.object({ saleId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a sale id has the SKU format') });
export const PutSaleBody = z
  .strictObject({
    sku: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a SKU is 1-64 of A-Z a-z 0-9 . _ - and starts with a letter or digit'),
    priceCents: z.number().int().min(0).max(100_000_000_00),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }),
    perCustomerLimit: z.number().int().min(1).max(100),
  })
  .refine((b) => Date.parse(b.startsAt) < Date.parse(b.endsAt), { message: 'startsAt must be before endsAt', path: ['endsAt'] })
  .describe('startsAt must be before endsAt, or the sale is refused with 400 validation_failed');
export const SalePositionResponse = z.object({ saleId: z.string(), position: z.number().int() });
