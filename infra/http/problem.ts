import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { RejectionCode } from '../../domain/kernel/decider';

/** A refusal raised by HTTP policy (auth, rate limits, load) rather than by a command. */
export class HttpProblem extends Error {
  readonly status: number;
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly extras: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
    this.status = problemTypes[code].status;
  }
}

export interface ProblemType {
  readonly status: number;
  readonly title: string;
  /** What a client should do about it (docs/errors.md). */
  readonly advice: string;
}

const registry = {
  validation_failed: { status: 400, title: 'The request is not valid', advice: 'Fix the request: `errors` names each field and what is wrong with it. Do not retry it unchanged.' },
  malformed_json: { status: 400, title: 'The body is not valid JSON', advice: 'Send a JSON body. Do not retry it unchanged.' },
  bad_request: { status: 400, title: 'The request is not valid HTTP', advice: 'A bug in the client or a proxy: the request line or headers could not be parsed. The connection is closed.' },
  unknown_position: { status: 409, title: 'The position is beyond the head of the event log', advice: 'Send an `X-Min-Position` taken from a command response; a position the log has not reached cannot be waited for.' },
  invalid_sale_window: { status: 400, title: 'A sale must start before it ends', advice: 'Send `startsAt` before `endsAt`.' },
  unauthorized: { status: 401, title: 'A valid bearer token is required', advice: 'Send `Authorization: Bearer <token>`: the admin token on admin routes, the customer JWT on customer routes when customer auth is on. Get a fresh token if it expired.' },
  invalid_signature: { status: 401, title: 'The signature is missing or wrong', advice: 'The payment provider must sign the raw body with the shared webhook secret (`Crest-Signature`). Check the secret; nothing was changed.' },
  forbidden: { status: 403, title: 'The admin token is wrong', advice: 'Use the admin token this deployment was started with.' },
  customer_mismatch: { status: 403, title: 'The customer is not the one the token was issued to', advice: 'A customer may only act on their own orders: use the token of the customer named in the request.' },
  not_found: { status: 404, title: 'No such resource', advice: 'Check the path against the API document.' },
  unknown_sku: { status: 404, title: 'The SKU is not listed', advice: 'List the product first (admin), or fix the SKU.' },
  order_not_found: { status: 404, title: 'No such order', advice: 'Check the order id. Right after placing an order, read with `X-Min-Position` (the position the placement answered) instead of retrying.' },
  unknown_sale: { status: 404, title: 'No such sale', advice: 'Check the sale id.' },
  method_not_allowed: { status: 405, title: 'Method not allowed', advice: 'Use one of the methods in the `Allow` header.' },
  request_timeout: { status: 408, title: 'The request took too long to arrive', advice: 'Send the whole request within the timeout; retry on a new connection.' },
  out_of_stock: { status: 409, title: 'Not enough stock', advice: 'Nothing was reserved. `skus` names the lines that could not be had: offer fewer, or other items. Retrying the same order later is a fresh attempt.' },
  insufficient_stock: { status: 409, title: 'Not enough stock for this adjustment', advice: 'An adjustment may not take available stock below zero: adjust by less, or release reservations first.' },
  order_not_cancellable: { status: 409, title: 'The order can no longer be cancelled', advice: 'It is confirmed, or already settled: show its status (`GET /v1/orders/:id`). A refund is a separate process.' },
  order_not_payable: { status: 409, title: 'The order cannot be paid in its current status', advice: 'It is not awaiting payment (paid, cancelled, expired): show its status, and place a new order if needed.' },
  order_not_confirmable: { status: 409, title: 'The order cannot be confirmed in its current status', advice: 'Nothing to do: the order is settled otherwise. Its status says how.' },
  reservation_mismatch: { status: 409, title: 'The order already holds a different quantity', advice: 'An order holds one quantity per SKU: place a new order for a different quantity.' },
  reservation_not_held: { status: 409, title: 'The order holds no reservation', advice: 'The reservation was released (cancelled or expired): place a new order.' },
  sale_not_started: { status: 409, title: 'The sale has not started', advice: 'Nothing was reserved. Try again at `startsAt` (in the body); the product card shows the coming sale.' },
  purchase_limit_exceeded: { status: 409, title: 'Past the limit per customer in this sale', advice: 'Nothing was reserved. The customer holds `held` of `limit`; a cancelled or expired order gives units back.' },
  sale_changed: { status: 409, title: 'The SKU went on or off sale while ordering', advice: 'Nothing was reserved: read the product card again and place the order at its current price.' },
  sale_overlaps: { status: 409, title: 'The window overlaps another sale of the SKU', advice: 'Move the window, or cancel the other sale (`overlaps` names it).' },
  sale_sku_changed: { status: 409, title: 'A sale cannot move to another SKU', advice: 'Cancel the sale and schedule a new one for the other SKU.' },
  rebuild_not_ready: { status: 409, title: 'The rebuilt read models have not caught up', advice: 'Wait until `GET /v1/admin/read-models` shows the rebuild `caught_up`, or start it with `{"switch":true}`.' },
  payload_too_large: { status: 413, title: 'The body is larger than 64 KiB', advice: 'Send a smaller body.' },
  unsupported_media_type: { status: 415, title: 'Bodies must be application/json', advice: 'Send `Content-Type: application/json`.' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was used for a different request', advice: 'Use a new key for a new order; reuse a key only to retry the very same request.' },
  payment_mismatch: { status: 422, title: 'The payment callback does not match its order', advice: 'Nothing moved. The callback named another payment, order or amount: check with the provider; it is kept for a person.' },
  rate_limited: { status: 429, title: 'Too many requests', advice: 'Wait `Retry-After` seconds, then retry with the same Idempotency-Key.' },
  headers_too_large: { status: 431, title: 'The request headers are larger than 16 KiB', advice: 'Send fewer or smaller headers (cookies).' },
  internal_error: { status: 500, title: 'Internal error', advice: 'A bug, logged with its stack. Retrying with the same Idempotency-Key is safe.' },
  overloaded: { status: 503, title: 'The server is overloaded', advice: 'Retry after `Retry-After` seconds with the same Idempotency-Key: nothing was done.' },
  concurrency_conflict: { status: 503, title: 'Too much contention; retry', advice: 'Retry after `Retry-After` seconds with the same Idempotency-Key.' },
  stale_read_model: { status: 503, title: 'The read model has not caught up yet', advice: 'Retry after `Retry-After` seconds with the same `X-Min-Position`.' },
  unavailable: { status: 503, title: 'A dependency is unavailable', advice: 'Retry after `Retry-After` seconds (with the same Idempotency-Key for commands): a store or broker is down and Crest is waiting for it.' },
} as const satisfies Record<string, ProblemType>;

/** Every stable problem code: a misspelt one does not compile. */
export type ProblemCode = keyof typeof registry;

/** The one registry of problem codes: each stable code, its status, its title and what a client should do. */
export const problemTypes: Readonly<Record<ProblemCode, ProblemType>> = registry;

export const isProblemCode = (code: unknown): code is ProblemCode => typeof code === 'string' && Object.hasOwn(registry, code);

// every refusal a decider can give is a code of the contract (the writer's internal `already_exists` excepted)
type Unregistered = Exclude<Exclude<RejectionCode, 'already_exists'>, ProblemCode>;
const everyRejectionRegistered: [Unregistered] extends [never] ? true : Unregistered = true;
void everyRejectionRegistered;

/** Fastify's own request errors, by their error code. */
const fastifyCodes: Readonly<Record<string, ProblemCode>> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'validation_failed',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_VALIDATION: 'validation_failed',
};

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly instance: string;
  readonly [extra: string]: unknown;
}

const RETRY_AFTER_SECONDS: Readonly<Record<number, string>> = { 429: '1', 503: '1' };

export const problemFor = (code: ProblemCode, detail: string, instance: string, extras: Readonly<Record<string, unknown>> = {}): Problem => {
  const type = problemTypes[code];
  return { ...extras, type: `https://crest.dev/problems/${code}`, title: type.title, status: type.status, code, detail, instance };
};

const validationErrors = (error: FastifyError): Array<{ in: string; path: string; message: string }> => {
  if (!hasZodFastifySchemaValidationErrors(error)) return [];
  return error.validation.map((v) => ({
    in: error.validationContext ?? 'body',
    path: v.instancePath || '/',
    message: v.message ?? 'invalid',
  }));
};

const classify = (error: unknown): { code: ProblemCode; detail: string; extras: Record<string, unknown>; headers: Record<string, string> } => {
  if (error instanceof HttpProblem) return { code: error.code, detail: error.message, extras: { ...error.extras }, headers: { ...error.headers } };
  const err = error as Partial<FastifyError> & { details?: Record<string, unknown> };
  if (isProblemCode(err.code) && err.code !== 'internal_error') {
    return { code: err.code, detail: err.message ?? '', extras: { ...(err.details ?? {}) }, headers: {} };
  }
  if (typeof err.code === 'string' && Object.hasOwn(fastifyCodes, err.code)) {
    const errors = validationErrors(err as FastifyError);
    const detail = errors.length > 0 ? errors.map((e) => `${e.in} ${e.path}: ${e.message}`).join('; ') : (err.message ?? '');
    return { code: fastifyCodes[err.code]!, detail, extras: errors.length > 0 ? { errors } : {}, headers: {} };
  }
  // any other client error fastify raised (bad URL encoding, bad headers) is still the client's
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return { code: err.statusCode === 404 ? 'not_found' : 'validation_failed', detail: err.message ?? '', extras: {}, headers: {} };
  }
  return { code: 'internal_error', detail: 'Something went wrong on our side; the request may be retried.', extras: {}, headers: {} };
};

const causeOf = (error: unknown): { cause?: string } => {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return cause instanceof Error ? { cause: cause.message } : {};
};

/** The single place where an error becomes an RFC 7807 problem+json response. */
export const sendProblem = (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
  const { code, detail, extras, headers } = classify(error);
  const problem = problemFor(code, detail, request.url, extras);
  request.problemCode = code;
  if (problem.status === 500) request.log.error({ err: error, code }, 'request failed');
  // expected refusals under load or while a dependency is down: no stack, and not an error page for whoever is on call
  else if (problem.status > 500) request.log.warn({ code, status: problem.status, detail, ...causeOf(error) }, 'request refused');
  const retryAfter = RETRY_AFTER_SECONDS[problem.status];
  if (retryAfter && !headers['retry-after']) headers['retry-after'] = retryAfter;
  return reply.status(problem.status).headers(headers).type('application/problem+json').send(problem);
};
