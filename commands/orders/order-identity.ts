import { createHash } from 'node:crypto';

export interface RequestedLine {
  readonly sku: string;
  readonly quantity: number;
}

/** The order id is a function of the customer and their Idempotency-Key, so a retried request names the same order. */
export const deriveOrderId = (customerId: string, idempotencyKey: string): string =>
  'ord_' + createHash('sha256').update(`${customerId}\u0000${idempotencyKey}`).digest('base64url').slice(0, 24);

/** "Same body" means the same customer and the same lines in any order. */
export const requestHashOf = (customerId: string, lines: readonly RequestedLine[]): string => {
  const canonical = [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0)).map((l) => [l.sku, l.quantity]);
  return createHash('sha256').update(JSON.stringify([customerId, canonical])).digest('base64url');
};
