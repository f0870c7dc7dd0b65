import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

/** A refusal raised by HTTP policy (auth, rate limits, load) rather than by a command. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extras: Readonly<Record<string, unknown>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpProblem';
  }
}

interface ProblemType {
  readonly status: number;
  readonly title: string;
}

/** The one registry of problem codes: each stable code, its status and its title. */
export const problemTypes: Readonly<Record<string, ProblemType>> = {
  validation_failed: { status: 400, title: 'The request is not valid' },
  malformed_json: { status: 400, title: 'The body is not valid JSON' },
  bad_request: { status: 400, title: 'The request is not valid HTTP' },
  unauthorized: { status: 401, title: 'A valid bearer token is required' },
  invalid_signature: { status: 401, title: 'The signature is missing or wrong' },
  forbidden: { status: 403, title: 'The admin token is wrong' },
  customer_mismatch: { status: 403, title: 'The customer is not the one the token was issued to' },
  not_found: { status: 404, title: 'No such resource' },
  unknown_sku: { status: 404, title: 'The SKU is not listed' },
  order_not_found: { status: 404, title: 'No such order' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'The request took too long to arrive' },
  out_of_stock: { status: 409, title: 'Not enough stock' },
  insufficient_stock: { status: 409, title: 'Not enough stock for this adjustment' },
  order_not_cancellable: { status: 409, title: 'The order can no longer be cancelled' },
  order_not_payable: { status: 409, title: 'The order cannot be paid in its current status' },
  order_not_confirmable: { status: 409, title: 'The order cannot be confirmed in its current status' },
  reservation_mismatch: { status: 409, title: 'The order already holds a different quantity' },
  reservation_not_held: { status: 409, title: 'The order holds no reservation' },
  sale_not_started: { status: 409, title: 'The sale has not started' },
  purchase_limit_exceeded: { status: 409, title: 'Past the limit per customer in this sale' },
  sale_changed: { status: 409, title: 'The SKU went on or off sale while ordering' },
  rebuild_not_ready: { status: 409, title: 'The rebuilt read models have not caught up' },
  sale_overlaps: { status: 409, title: "The window overlaps another sale of the SKU" },
  sale_sku_changed: { status: 409, title: 'A sale cannot move to another SKU' },
  invalid_sale_window: { status: 400, title: 'A sale must start before it ends' },
  unknown_sale: { status: 404, title: 'No such sale' },
  payload_too_large: { status: 413, title: 'The body is larger than 64 KiB' },
  unsupported_media_type: { status: 415, title: 'Bodies must be application/json' },
  idempotency_key_reused: { status: 422, title: 'The Idempotency-Key was used for a different request' },
  payment_mismatch: { status: 422, title: 'The payment callback does not match its order' },
  rate_limited: { status: 429, title: 'Too many requests' },
  headers_too_large: { status: 431, title: 'The request headers are larger than 16 KiB' },
  internal_error: { status: 500, title: 'Internal error' },
  overloaded: { status: 503, title: 'The server is overloaded' },
  concurrency_conflict: { status: 503, title: 'Too much contention; retry' },
  stale_read_model: { status: 503, title: 'The read model has not caught up yet' },
  unavailable: { status: 503, title: 'A dependency is unavailable' },
};

/** Fastify's own request errors, by their error code. */
const fastifyCodes: Readonly<Record<string, string>> = {
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

export const problemFor = (code: string, detail: string, instance: string, extras: Readonly<Record<string, unknown>> = {}): Problem => {
  const type = problemTypes[code] ?? problemTypes.internal_error!;
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

const classify = (error: unknown): { code: string; detail: string; extras: Record<string, unknown>; headers: Record<string, string> } => {
  if (error instanceof HttpProblem) return { code: error.code, detail: error.message, extras: { ...error.extras }, headers: { ...error.headers } };
  const err = error as Partial<FastifyError> & { details?: Record<string, unknown> };
  if (typeof err.code === 'string' && problemTypes[err.code] && err.code !== 'internal_error') {
    return { code: err.code, detail: err.message ?? '', extras: { ...(err.details ?? {}) }, headers: {} };
  }
  if (typeof err.code === 'string' && fastifyCodes[err.code]) {
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
