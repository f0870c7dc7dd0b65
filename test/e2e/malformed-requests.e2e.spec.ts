import { expect } from 'chai';
import { Tokens } from '../../infra/composition/root';
import { ADMIN_TOKEN, seedProduct, startCrest, type TestCrest } from '../support/crest-harness';

/**
 * Malformed and hostile requests against every command route, over real HTTP. Each must be refused with a 4xx
 * RFC 7807 problem carrying the expected stable `code`, and none may append anything to the event store.
 */

type Method = 'PUT' | 'DELETE' | 'POST';

/** A request body: a JSON value (serialised with JSON.stringify) or a raw string sent byte for byte. */
type RowBody = { readonly json: unknown } | { readonly raw: string };

interface Row {
  readonly name: string;
  readonly method: Method;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: RowBody;
  readonly status: number;
  readonly code: string;
}

const json = (value: unknown): RowBody => ({ json: value });
const raw = (text: string): RowBody => ({ raw: text });

const JSON_CT = { 'content-type': 'application/json' } as const;
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}`, ...JSON_CT } as const;
const ADMIN_NO_BODY = { authorization: `Bearer ${ADMIN_TOKEN}` } as const;
const ORDER = { 'idempotency-key': 'malformed-key-0001', ...JSON_CT } as const;

const SKU = 'SKU-OK';
const INJECTION = { $gt: '' } as const;

const product = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'Widget', category: 'flash', priceCents: 1999, ...overrides });
const receipt = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ quantity: 5, receiptId: 'rcpt-malformed-1', ...overrides });
const adjustment = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ delta: -1, reason: 'shrinkage', adjustmentId: 'adj-malformed-1', ...overrides });
const order = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({ customerId: 'cust-malformed', lines: [{ sku: SKU, quantity: 1 }], ...overrides });
const lines = (n: number): Array<{ sku: string; quantity: number }> => Array.from({ length: n }, (_, i) => ({ sku: `SKU-L${i}`, quantity: 1 }));

/** Valid JSON a little over the 64 KiB body limit. */
const oversized = JSON.stringify(product({ description: 'x'.repeat(70 * 1024) }));

const productsPath = `/v1/products/${SKU}`;
const receiptsPath = `/v1/inventory/${SKU}/receipts`;
const adjustmentsPath = `/v1/inventory/${SKU}/adjustments`;
const ordersPath = '/v1/orders';
const WELL_FORMED_UNKNOWN_ORDER = `ord_${'A'.repeat(24)}`;

const rows: readonly Row[] = [
  // ---- PUT /v1/products/:sku -------------------------------------------------------------------------------
  { name: 'PUT product without a token', method: 'PUT', path: productsPath, headers: JSON_CT, body: json(product()), status: 401, code: 'unauthorized' },
  { name: 'PUT product with a wrong token', method: 'PUT', path: productsPath, headers: { ...JSON_CT, authorization: 'Bearer not-the-admin-token' }, body: json(product()), status: 403, code: 'forbidden' },
  { name: 'PUT product with a non-Bearer scheme', method: 'PUT', path: productsPath, headers: { ...JSON_CT, authorization: `Basic ${ADMIN_TOKEN}` }, body: json(product()), status: 403, code: 'forbidden' },
  { name: 'PUT product with a token that is a prefix of the real one', method: 'PUT', path: productsPath, headers: { ...JSON_CT, authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }, body: json(product()), status: 403, code: 'forbidden' },
  { name: 'PUT product with negative priceCents', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ priceCents: -1 })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with fractional priceCents', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ priceCents: 19.99 })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with string priceCents', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ priceCents: '1999' })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with priceCents above the maximum', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ priceCents: 100_000_000_01 })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a description over 4000 characters', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ description: 'd'.repeat(4001) })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a blank name', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ name: '   ' })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with an injection object as name', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ name: INJECTION })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with markup in category', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ category: '<script>alert(1)</script>' })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a missing category', method: 'PUT', path: productsPath, headers: ADMIN, body: json({ name: 'Widget', priceCents: 1 }), status: 400, code: 'validation_failed' },
  { name: 'PUT product with an unknown top-level field', method: 'PUT', path: productsPath, headers: ADMIN, body: json(product({ stock: 5 })), status: 400, code: 'validation_failed' },
  { name: 'PUT product with an array body', method: 'PUT', path: productsPath, headers: ADMIN, body: json([product()]), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a null body', method: 'PUT', path: productsPath, headers: ADMIN, body: raw('null'), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a string body', method: 'PUT', path: productsPath, headers: ADMIN, body: raw('"Widget"'), status: 400, code: 'validation_failed' },
  {
    name: 'PUT product with a __proto__ pollution payload',
    method: 'PUT',
    path: productsPath,
    headers: ADMIN,
    body: raw('{"name":"Widget","category":"flash","priceCents":1,"__proto__":{"isAdmin":true}}'),
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'PUT product with a constructor.prototype pollution payload',
    method: 'PUT',
    path: productsPath,
    headers: ADMIN,
    body: raw('{"name":"Widget","category":"flash","priceCents":1,"constructor":{"prototype":{"isAdmin":true}}}'),
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'PUT product with a plain constructor field',
    method: 'PUT',
    path: productsPath,
    headers: ADMIN,
    body: raw('{"name":"Widget","category":"flash","priceCents":1,"constructor":1}'),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'PUT product as text/plain', method: 'PUT', path: productsPath, headers: { ...ADMIN_NO_BODY, 'content-type': 'text/plain' }, body: raw(JSON.stringify(product())), status: 415, code: 'unsupported_media_type' },
  { name: 'PUT product as application/vnd.api+json', method: 'PUT', path: productsPath, headers: { ...ADMIN_NO_BODY, 'content-type': 'application/vnd.api+json' }, body: json(product()), status: 415, code: 'unsupported_media_type' },
  {
    name: 'PUT product as a form',
    method: 'PUT',
    path: productsPath,
    headers: { ...ADMIN_NO_BODY, 'content-type': 'application/x-www-form-urlencoded' },
    body: raw('name=Widget&category=flash&priceCents=1'),
    status: 415,
    code: 'unsupported_media_type',
  },
  { name: 'PUT product with invalid JSON', method: 'PUT', path: productsPath, headers: ADMIN, body: raw('{"name":"Widget",'), status: 400, code: 'malformed_json' },
  { name: 'PUT product with an empty JSON body', method: 'PUT', path: productsPath, headers: ADMIN, body: raw(''), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a body over 64 KiB', method: 'PUT', path: productsPath, headers: ADMIN, body: raw(oversized), status: 413, code: 'payload_too_large' },
  { name: 'PUT product with a 65-character SKU', method: 'PUT', path: `/v1/products/${'A'.repeat(65)}`, headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: "PUT product with a SKU starting with '-'", method: 'PUT', path: '/v1/products/-SKU', headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: "PUT product with a SKU starting with '.'", method: 'PUT', path: '/v1/products/.SKU', headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a url-encoded slash in the SKU', method: 'PUT', path: '/v1/products/SKU%2FOK', headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a url-encoded space in the SKU', method: 'PUT', path: '/v1/products/SKU%20OK', headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: 'PUT product with a unicode SKU', method: 'PUT', path: `/v1/products/${encodeURIComponent('SKU-ÉTÉ-☃')}`, headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  // SERVER BUG: a SKU longer than find-my-way's maxParamLength (100) never reaches the route or the error handler.
  // fastify answers 414 `application/json` {"error":"Bad Request","code":"FST_ERR_MAX_PARAM_LENGTH",...,"statusCode":414},
  // not a problem+json (no type/title/detail). Root cause: no `frameworkErrors` option in infra/http/app.ts.
  { name: 'PUT product with a 101-character SKU (over the router param limit)', method: 'PUT', path: `/v1/products/${'A'.repeat(101)}`, headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  // SERVER BUG: invalid percent-encoding in the path gets fastify's built-in 400 `application/json`
  // {"error":"Bad Request","code":"FST_ERR_BAD_URL",...}, not a problem+json. Same root cause (no `frameworkErrors`).
  { name: 'PUT product with invalid percent-encoding in the SKU', method: 'PUT', path: '/v1/products/SKU%ZZ', headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },
  { name: 'PUT product with an injection-shaped SKU', method: 'PUT', path: `/v1/products/${encodeURIComponent('{"$gt":""}')}`, headers: ADMIN, body: json(product()), status: 400, code: 'validation_failed' },

  // ---- DELETE /v1/products/:sku -------------------------------------------------------------------------------
  { name: 'DELETE product without a token', method: 'DELETE', path: productsPath, headers: {}, status: 401, code: 'unauthorized' },
  { name: 'DELETE product with a wrong token', method: 'DELETE', path: productsPath, headers: { authorization: 'Bearer wrong' }, status: 403, code: 'forbidden' },
  { name: 'DELETE product with an empty bearer token', method: 'DELETE', path: productsPath, headers: { authorization: 'Bearer ' }, status: 403, code: 'forbidden' },
  { name: "DELETE product with a SKU starting with '-'", method: 'DELETE', path: '/v1/products/-SKU-OK', headers: ADMIN_NO_BODY, status: 400, code: 'validation_failed' },
  { name: 'DELETE product with an unknown SKU', method: 'DELETE', path: '/v1/products/SKU-NOPE', headers: ADMIN_NO_BODY, status: 404, code: 'unknown_sku' },
  { name: 'DELETE product with a 65-character SKU', method: 'DELETE', path: `/v1/products/${'B'.repeat(65)}`, headers: ADMIN_NO_BODY, status: 400, code: 'validation_failed' },

  // ---- POST /v1/inventory/:sku/receipts ------------------------------------------------------------------------
  { name: 'receipt without a token', method: 'POST', path: receiptsPath, headers: JSON_CT, body: json(receipt()), status: 401, code: 'unauthorized' },
  { name: 'receipt with a wrong token', method: 'POST', path: receiptsPath, headers: { ...JSON_CT, authorization: 'Bearer wrong' }, body: json(receipt()), status: 403, code: 'forbidden' },
  { name: 'receipt with a string quantity', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ quantity: '5' })), status: 400, code: 'validation_failed' },
  { name: 'receipt with a zero quantity', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ quantity: 0 })), status: 400, code: 'validation_failed' },
  { name: 'receipt with a negative quantity', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ quantity: -5 })), status: 400, code: 'validation_failed' },
  { name: 'receipt with a fractional quantity', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ quantity: 1.5 })), status: 400, code: 'validation_failed' },
  { name: 'receipt with quantity 1,000,001', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ quantity: 1_000_001 })), status: 400, code: 'validation_failed' },
  { name: 'receipt with quantity 1e309 (Infinity)', method: 'POST', path: receiptsPath, headers: ADMIN, body: raw('{"quantity":1e309,"receiptId":"rcpt-inf"}'), status: 400, code: 'validation_failed' },
  { name: 'receipt with an injection object as receiptId', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ receiptId: INJECTION })), status: 400, code: 'validation_failed' },
  { name: 'receipt without a receiptId', method: 'POST', path: receiptsPath, headers: ADMIN, body: json({ quantity: 5 }), status: 400, code: 'validation_failed' },
  { name: 'receipt with a receiptId over 128 characters', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ receiptId: 'r'.repeat(129) })), status: 400, code: 'validation_failed' },
  { name: 'receipt with an unknown top-level field', method: 'POST', path: receiptsPath, headers: ADMIN, body: json(receipt({ sku: 'SKU-OTHER' })), status: 400, code: 'validation_failed' },
  { name: 'receipt with a __proto__ pollution payload', method: 'POST', path: receiptsPath, headers: ADMIN, body: raw('{"quantity":5,"receiptId":"rcpt-proto","__proto__":{"quantity":1000000}}'), status: 400, code: 'malformed_json' },
  { name: 'receipt as text/plain', method: 'POST', path: receiptsPath, headers: { ...ADMIN_NO_BODY, 'content-type': 'text/plain' }, body: raw(JSON.stringify(receipt())), status: 415, code: 'unsupported_media_type' },
  { name: 'receipt with an empty JSON body', method: 'POST', path: receiptsPath, headers: ADMIN, body: raw(''), status: 400, code: 'validation_failed' },
  { name: 'receipt with a url-encoded slash in the SKU', method: 'POST', path: '/v1/inventory/SKU%2FOK/receipts', headers: ADMIN, body: json(receipt()), status: 400, code: 'validation_failed' },
  { name: 'receipt for an unknown SKU', method: 'POST', path: '/v1/inventory/SKU-NOPE/receipts', headers: ADMIN, body: json(receipt()), status: 404, code: 'unknown_sku' },

  // ---- POST /v1/inventory/:sku/adjustments ---------------------------------------------------------------------
  { name: 'adjustment without a token', method: 'POST', path: adjustmentsPath, headers: JSON_CT, body: json(adjustment()), status: 401, code: 'unauthorized' },
  { name: 'adjustment with a wrong token', method: 'POST', path: adjustmentsPath, headers: { ...JSON_CT, authorization: 'Bearer wrong' }, body: json(adjustment()), status: 403, code: 'forbidden' },
  { name: 'adjustment with delta 0', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ delta: 0 })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with delta -0', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: raw('{"delta":-0,"reason":"shrinkage","adjustmentId":"adj-negzero"}'), status: 400, code: 'validation_failed' },
  { name: 'adjustment with a fractional delta', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ delta: -0.5 })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with a string delta', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ delta: '-1' })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with delta beyond -1,000,000', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ delta: -1_000_001 })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with a blank reason', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ reason: '   ' })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with a reason over 200 characters', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ reason: 'r'.repeat(201) })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with an injection object as adjustmentId', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ adjustmentId: INJECTION })), status: 400, code: 'validation_failed' },
  { name: 'adjustment with an unknown top-level field', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ force: true })), status: 400, code: 'validation_failed' },
  { name: 'adjustment taking available below zero', method: 'POST', path: adjustmentsPath, headers: ADMIN, body: json(adjustment({ delta: -11, adjustmentId: 'adj-too-much' })), status: 409, code: 'insufficient_stock' },
  { name: 'adjustment for an unknown SKU', method: 'POST', path: '/v1/inventory/SKU-NOPE/adjustments', headers: ADMIN, body: json(adjustment()), status: 404, code: 'unknown_sku' },

  // ---- POST /v1/orders -------------------------------------------------------------------------------------------
  { name: 'order without an Idempotency-Key', method: 'POST', path: ordersPath, headers: JSON_CT, body: json(order()), status: 400, code: 'validation_failed' },
  { name: 'order with a 7-character Idempotency-Key', method: 'POST', path: ordersPath, headers: { ...ORDER, 'idempotency-key': 'k234567' }, body: json(order()), status: 400, code: 'validation_failed' },
  { name: 'order with a 129-character Idempotency-Key', method: 'POST', path: ordersPath, headers: { ...ORDER, 'idempotency-key': 'k'.repeat(129) }, body: json(order()), status: 400, code: 'validation_failed' },
  { name: 'order with a space inside the Idempotency-Key', method: 'POST', path: ordersPath, headers: { ...ORDER, 'idempotency-key': 'key with spaces' }, body: json(order()), status: 400, code: 'validation_failed' },
  { name: 'order with zero lines', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [] })), status: 400, code: 'validation_failed' },
  { name: 'order with 21 lines', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: lines(21) })), status: 400, code: 'validation_failed' },
  {
    name: 'order with a duplicate SKU across lines',
    method: 'POST',
    path: ordersPath,
    headers: ORDER,
    body: json(order({ lines: [{ sku: SKU, quantity: 1 }, { sku: SKU, quantity: 2 }] })),
    status: 400,
    code: 'validation_failed',
  },
  { name: 'order line with quantity 0', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: 0 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with a negative quantity', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: -1 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with a fractional quantity', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: 0.5 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with quantity 101', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: 101 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with a string quantity', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: '1' }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with a number SKU', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: 12345, quantity: 1 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with an injection object as SKU', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: INJECTION, quantity: 1 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line with an unknown field', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: SKU, quantity: 1, priceCents: 1 }] })), status: 400, code: 'validation_failed' },
  { name: 'order line that is not an object', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [SKU] })), status: 400, code: 'validation_failed' },
  { name: 'order with lines as an object', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: { sku: SKU, quantity: 1 } })), status: 400, code: 'validation_failed' },
  { name: 'order with an injection object as customerId', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ customerId: INJECTION })), status: 400, code: 'validation_failed' },
  { name: 'order with a customerId over 128 characters', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ customerId: 'c'.repeat(129) })), status: 400, code: 'validation_failed' },
  { name: 'order without a customerId', method: 'POST', path: ordersPath, headers: ORDER, body: json({ lines: [{ sku: SKU, quantity: 1 }] }), status: 400, code: 'validation_failed' },
  { name: 'order with an unknown top-level field', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ totalCents: 0 })), status: 400, code: 'validation_failed' },
  { name: 'order with an array body', method: 'POST', path: ordersPath, headers: ORDER, body: json([order()]), status: 400, code: 'validation_failed' },
  { name: 'order with a null body', method: 'POST', path: ordersPath, headers: ORDER, body: raw('null'), status: 400, code: 'validation_failed' },
  {
    name: 'order with a top-level __proto__ pollution payload',
    method: 'POST',
    path: ordersPath,
    headers: ORDER,
    body: raw('{"customerId":"cust-malformed","lines":[{"sku":"SKU-OK","quantity":1}],"__proto__":{"status":"confirmed"}}'),
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'order with a __proto__ pollution payload inside a line',
    method: 'POST',
    path: ordersPath,
    headers: ORDER,
    body: raw('{"customerId":"cust-malformed","lines":[{"sku":"SKU-OK","quantity":1,"__proto__":{"quantity":100}}]}'),
    status: 400,
    code: 'malformed_json',
  },
  {
    name: 'order with a constructor.prototype pollution payload',
    method: 'POST',
    path: ordersPath,
    headers: ORDER,
    body: raw('{"customerId":"cust-malformed","lines":[{"sku":"SKU-OK","quantity":1}],"constructor":{"prototype":{"status":"confirmed"}}}'),
    status: 400,
    code: 'malformed_json',
  },
  { name: 'order as text/plain', method: 'POST', path: ordersPath, headers: { ...ORDER, 'content-type': 'text/plain' }, body: raw(JSON.stringify(order())), status: 415, code: 'unsupported_media_type' },
  { name: 'order with invalid JSON', method: 'POST', path: ordersPath, headers: ORDER, body: raw("{customerId: 'cust-malformed'}"), status: 400, code: 'malformed_json' },
  { name: 'order with an empty JSON body', method: 'POST', path: ordersPath, headers: ORDER, body: raw(''), status: 400, code: 'validation_failed' },
  {
    name: 'order with a body over 64 KiB',
    method: 'POST',
    path: ordersPath,
    headers: ORDER,
    body: raw(JSON.stringify(order({ customerId: 'cust-malformed', padding: 'p'.repeat(70 * 1024) }))),
    status: 413,
    code: 'payload_too_large',
  },
  { name: 'order for an unknown SKU', method: 'POST', path: ordersPath, headers: ORDER, body: json(order({ lines: [{ sku: 'SKU-NOPE', quantity: 1 }] })), status: 404, code: 'unknown_sku' },

  // ---- POST /v1/orders/:id/cancel --------------------------------------------------------------------------------
  { name: 'cancel with a malformed order id', method: 'POST', path: '/v1/orders/not-an-order/cancel', headers: {}, status: 400, code: 'validation_failed' },
  { name: 'cancel with an order id one character short', method: 'POST', path: `/v1/orders/ord_${'A'.repeat(23)}/cancel`, headers: {}, status: 400, code: 'validation_failed' },
  { name: 'cancel with an injection-shaped order id', method: 'POST', path: `/v1/orders/${encodeURIComponent('{"$ne":null}')}/cancel`, headers: {}, status: 400, code: 'validation_failed' },
  // SERVER BUG: as with the 101-character SKU, an id over the router's 100-character param limit gets fastify's
  // built-in 414 `application/json` {"code":"FST_ERR_MAX_PARAM_LENGTH",...} instead of a problem+json.
  { name: 'cancel with a 150-character order id (over the router param limit)', method: 'POST', path: `/v1/orders/ord_${'A'.repeat(146)}/cancel`, headers: {}, status: 400, code: 'validation_failed' },
  { name: 'cancel with a non-JSON body', method: 'POST', path: `/v1/orders/${WELL_FORMED_UNKNOWN_ORDER}/cancel`, headers: { 'content-type': 'text/plain' }, body: raw('please cancel'), status: 415, code: 'unsupported_media_type' },
  { name: 'cancel of a well-formed but unknown order', method: 'POST', path: `/v1/orders/${WELL_FORMED_UNKNOWN_ORDER}/cancel`, headers: {}, status: 404, code: 'order_not_found' },
];

describe('malformed requests to the command API (e2e)', function () {
  let crest: TestCrest;
  let head: number | undefined;

  const headPosition = (): Promise<number | undefined> => crest.running.container.get(Tokens.EventStore).headPosition();

  before(async () => {
    crest = await startCrest();
    await seedProduct(crest, SKU, 10);
    head = await headPosition();
    expect(head, 'seeding wrote events').to.be.a('number');
  });

  after(async () => {
    await crest?.dispose();
  });

  it(`has at least 30 rows (${rows.length})`, () => {
    expect(rows.length).to.be.at.least(30);
    expect(new Set(rows.map((r) => r.name)).size, 'row names are unique').to.equal(rows.length);
    for (const row of rows) expect(row.status, row.name).to.be.within(400, 499);
  });

  for (const row of rows) {
    it(`${row.method} ${row.path.length > 60 ? `${row.path.slice(0, 60)}…` : row.path}: ${row.name} → ${row.status} ${row.code}`, async () => {
      const response = await crest.call(row.method, row.path, {
        headers: { ...row.headers },
        ...(row.body === undefined ? {} : 'json' in row.body ? { rawBody: JSON.stringify(row.body.json) } : { rawBody: row.body.raw }),
      });
      const described = `${row.method} ${row.path} answered ${response.status} ${JSON.stringify(response.body)?.slice(0, 500)}`;

      expect(response.status, described).to.be.within(400, 499);
      expect(await headPosition(), `${row.name}: nothing may be written`).to.equal(head);
      expect(response.status, described).to.equal(row.status);
      expect(response.headers.get('content-type') ?? '', described).to.match(/^application\/problem\+json/);

      const problem = response.body as Record<string, unknown>;
      expect(problem, described).to.be.an('object');
      expect(problem.type, `${described}: type`).to.be.a('string').that.is.not.empty;
      expect(problem.title, `${described}: title`).to.be.a('string').that.is.not.empty;
      expect(problem.status, `${described}: status`).to.equal(response.status);
      expect(problem.code, `${described}: code`).to.equal(row.code);
      expect(problem.detail, `${described}: detail`).to.be.a('string');
    });
  }

  it('wrote nothing across the whole table', async () => {
    expect(await headPosition()).to.equal(head);
  });

  it('still accepts a valid order afterwards', async () => {
    const placed = await crest.call('POST', ordersPath, {
      headers: { 'idempotency-key': 'healthy-after-malformed-1' },
      body: { customerId: 'cust-healthy', lines: [{ sku: SKU, quantity: 1 }] },
    });
    expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
    expect(placed.body.status).to.equal('awaiting_payment');
    expect(placed.body.orderId).to.match(/^ord_[A-Za-z0-9_-]{24}$/);
    expect(placed.body.totalCents).to.equal(1999);
    const after = await headPosition();
    expect(after, 'a valid order writes events').to.be.a('number').that.is.greaterThan(head ?? -1);
  });
});
