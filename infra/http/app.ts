import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type SpanContext, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import underPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { CustomerAuthenticator } from './customer-auth';
import { AllowedMethods, documentProblems, type ProblemPolicies } from './documented-problems';
import { HttpProblem, problemFor, sendProblem, type ProblemCode } from './problem';

/** Per-route policy that routes declare in `config` and this module enforces. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Requires the admin bearer token. */
    admin?: boolean;
    /** Rate-limits orders by customer: the verified customer, else the `customerId` in the body. */
    customerRateLimit?: boolean;
    /**
     * A customer route. With customer auth on it requires the customer's bearer JWT, sets `request.customerId`, and
     * refuses a body or path `customerId` that is not that customer (403 `customer_mismatch`). With it off, the
     * per-IP limit applies.
     */
    customer?: boolean;
    /**
     * The problem codes the route's own logic can answer. The app adds what its policies can (bodies, auth, limits,
     * load, internal errors) and documents every one, by status, in the route's OpenAPI responses.
     */
    problems?: readonly ProblemCode[];
  }
  interface FastifyRequest {
    /** The JSON body's bytes exactly as received, for signature checks. */
    rawBody?: Buffer;
    /** The customer verified from the bearer JWT (its `sub`), on customer routes with customer auth on. */
    customerId?: string;
    /** The problem code the request was answered with, if it was refused. */
    problemCode?: string;
    /** The request's server span, when tracing is on: the commands it asks for run under it. */
    traceSpan?: SpanContext;
  }
}

export interface HttpAppOptions {
  readonly logger: Logger;
  readonly adminToken: string;
  readonly customerLimiter: RateLimiterAbstract | undefined;
  readonly globalLimiter: RateLimiterAbstract | undefined;
  readonly maxEventLoopDelayMs: number;
  readonly routes: readonly FastifyPluginAsync[];
  /** Every answer: `code` is the problem code of a refusal. */
  readonly onResponse?: (route: string, method: string, status: number, seconds: number, code: string | undefined) => void;
  readonly isReady?: () => boolean;
  /** With CREST_CUSTOMER_AUTH=jwt: verifies customers on customer routes. */
  readonly customerAuth?: CustomerAuthenticator | undefined;
  /** Per client IP, for requests without a verified customer. */
  readonly ipLimiter?: RateLimiterAbstract | undefined;
  /** Whole-request bound (headers and body); a slower client gets 408 and the connection closes. */
  readonly requestTimeoutMs?: number;
  /** With tracing on: every request is a server span (continuing a W3C `traceparent` it carries). */
  readonly tracerProvider?: TracerProvider | undefined;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_LIMIT = 64 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Idle bound on a connection mid-request; above the longest configurable wait of a handler (60 s). */
const CONNECTION_IDLE_TIMEOUT_MS = 120_000;
/** How long a connection we are closing keeps reading what the client still sends. */
const LINGER_MS = 5000;

/** Node's HTTP parser and request-timeout errors, by their code; any other parser error is `bad_request`. */
const clientErrorCodes: Readonly<Record<string, { code: ProblemCode; detail: (requestTimeoutMs: number) => string }>> = {
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', detail: () => `The request headers are larger than ${MAX_HEADER_BYTES} bytes` },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', detail: (ms) => `The request did not arrive within ${ms} ms` },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { code: 'payload_too_large', detail: () => 'The chunk extensions are too large' },
};

const tokenMatches = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

const consumeOrRefuse = async (limiter: RateLimiterAbstract, key: string, detail: string): Promise<void> => {
  try {
    await limiter.consume(key);
  } catch (refusal) {
    const ms = (refusal as { msBeforeNext?: number }).msBeforeNext ?? 1000;
    throw new HttpProblem('rate_limited', detail, {}, { 'retry-after': retryAfterSeconds(ms) });
  }
};

/**
 * Closes a socket without losing our answer. Closing while the client is still sending makes the kernel reset the
 * connection, and a reset can discard the answer before the client reads it (EPIPE or ECONNRESET instead of 413). So
 * send FIN, keep reading (and discarding) what still arrives, and destroy only after `LINGER_MS` if the client has not
 * closed by then.
 */
const lingerThenClose = (socket: Socket): void => {
  if (socket.destroyed) return;
  socket.end();
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
};

/** Sockets we are already closing: a late parser error or timeout on them must not write a second answer. */
const closing = new WeakSet<Socket>();

/** An answer sent before the body has fully arrived closes the connection, but only after the client could read it. */
const closeGently = (request: FastifyRequest, reply: FastifyReply): void => {
  const socket = request.raw.socket as Socket | null;
  if (!socket || closing.has(socket)) return;
  closing.add(socket);
  reply.header('connection', 'close');
  request.raw.resume();
  // node calls destroySoon() once a `Connection: close` response is written; make that a lingering close
  Object.assign(socket, { destroySoon: () => lingerThenClose(socket) });
};

/** The raw-socket answer to an error Node's HTTP parser (or its request timeout) meets before Fastify sees a request. */
const clientErrorResponse = (errorCode: string | undefined, message: string, requestTimeoutMs: number): string => {
  const known = errorCode ? clientErrorCodes[errorCode] : undefined;
  const detail = known ? known.detail(requestTimeoutMs) : `The request is not valid HTTP/1.1 (${errorCode ?? 'error'}: ${message})`;
  const problem = problemFor(known?.code ?? 'bad_request', detail, '');
  const body = JSON.stringify(problem);
  return (
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\n` +
    'Content-Type: application/problem+json\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
};

const propagator = new W3CTraceContextPropagator();
/** Probes and scrapes, every few seconds from machines: a trace each would bury the requests that matter. */
const UNTRACED_ROUTES: ReadonlySet<string> = new Set(['/health/live', '/health/ready', '/metrics']);

/**
 * One server span per request, begun before any other hook (so that requests refused by auth or a rate limit are
 * traced too) and ended once the answer is sent. Not `@fastify/otel`: it marks every thrown refusal (a sold-out 409)
 * as an error span with an exception, where HTTP server spans leave 4xx unset, and it reads an incoming `traceparent`
 * only through the process-wide propagator.
 */
const traceRequests = (app: FastifyInstance, tracer: Tracer): void => {
  const spans = new WeakMap<FastifyRequest, Span>();
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url;
    if (route !== undefined && UNTRACED_ROUTES.has(route)) return;
    const attributes = { [ATTR_HTTP_REQUEST_METHOD]: request.method, [ATTR_URL_PATH]: request.url.split('?', 1)[0], 'crest.correlation_id': request.id };
    const parent = propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter);
    const span = tracer.startSpan(route ? `${request.method} ${route}` : request.method, { kind: SpanKind.SERVER, attributes: route ? { ...attributes, [ATTR_HTTP_ROUTE]: route } : attributes }, parent);
    spans.set(request, span);
    request.traceSpan = span.spanContext();
  });
  const end = (request: FastifyRequest, status: number | undefined): void => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (request.problemCode) span.setAttribute('crest.problem', request.problemCode);
    if (status === undefined || status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, status === undefined ? 'aborted' : String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  app.addHook('onResponse', async (request, reply) => end(request, reply.statusCode));
  app.addHook('onRequestAbort', async (request) => end(request, undefined));
};

/** Builds the HTTP app (not listening): one error handler, one JSON parser, and the cross-cutting policies. */
export const buildHttpApp = async (options: HttpAppOptions): Promise<FastifyInstance> => {
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
    // headers and body must have arrived within this (slow-body clients get 408); node checks it on an interval
    requestTimeout: requestTimeoutMs,
    connectionTimeout: Math.max(CONNECTION_IDLE_TIMEOUT_MS, requestTimeoutMs),
    // node must get the timeouts at construction: set later (as fastify does), a headersTimeout above requestTimeout
    // leaves bodies unbounded; its default 30 s check interval would also stretch a 1 s timeout to 31 s
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: Math.min(60_000, requestTimeoutMs),
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeoutMs / 4))),
      maxHeaderSize: MAX_HEADER_BYTES,
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      if (closing.has(socket)) return void socket.destroy();
      closing.add(socket);
      options.logger.debug({ err: error, code: error.code }, 'client error');
      // a response already under way on this socket cannot be followed by another one
      const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
      if (!socket.writable || inFlight?.headersSent) return void socket.destroy();
      socket.write(clientErrorResponse(error.code, error.message, requestTimeoutMs));
      lingerThenClose(socket);
    },
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'correlationId', disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-correlation-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
    return503OnClosing: true,
    // errors fastify meets before routing (bad URL encoding, over-long parameters) go through the same registry
    frameworkErrors: (error, request, reply) => void sendProblem(error, request, reply),
    routerOptions: { ignoreTrailingSlash: true },
  });

  app.setValidatorCompiler(validatorCompiler);
  // responses are built by our own code; skip re-validating them on the hot path
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.removeContentTypeParser('text/plain');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // the bytes as received: a webhook signature is over them, and decoding (invalid UTF-8 becomes U+FFFD) would change them
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer;
    parseJson(request, (body as Buffer).toString('utf8'), done);
  });
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  const allowed = new AllowedMethods();
  const policies: ProblemPolicies = {
    shedsLoad: options.maxEventLoopDelayMs > 0,
    customerAuth: options.customerAuth !== undefined,
    ipLimit: options.ipLimiter !== undefined,
    orderLimit: options.customerLimiter !== undefined || options.globalLimiter !== undefined,
  };
  app.addHook('onRoute', (route) => {
    allowed.add(route.url, route.method);
    if (!route.schema?.hide) documentProblems(route, policies);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(new HttpProblem('not_found', `No route for ${request.method} ${request.url}`), request, reply));

  if (options.tracerProvider) traceRequests(app, options.tracerProvider.getTracer('crest'));
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
    // a known path with another method: 405 before anything (a body parser) can answer otherwise
    if (request.is404) {
      const allow = allowed.allowed(request.url);
      if (allow.length > 0) throw new HttpProblem('method_not_allowed', `${request.method} is not allowed on this path; use ${allow.join(', ')}`, {}, { allow: allow.join(', ') });
    }
    const config = request.routeOptions.config;
    if (config.admin) {
      const header = request.headers.authorization;
      if (!header) throw new HttpProblem('unauthorized', 'Send Authorization: Bearer <admin token>', {}, { 'www-authenticate': 'Bearer' });
      const match = /^bearer +(.+)$/i.exec(header);
      if (!match || !tokenMatches(match[1]!, options.adminToken)) throw new HttpProblem('forbidden', 'The admin token does not match');
      return;
    }
    if (!config.customer) return;
    if (options.customerAuth) request.customerId = await options.customerAuth.verify(request.headers.authorization);
    else if (options.ipLimiter) await consumeOrRefuse(options.ipLimiter, request.ip, 'Too many requests from this address');
  });

  app.addHook('preHandler', async (request) => {
    const config = request.routeOptions.config;
    if (config.customer && request.customerId !== undefined) {
      const claimed = [(request.body as { customerId?: unknown } | undefined)?.customerId, (request.params as { customerId?: unknown } | undefined)?.customerId];
      if (claimed.some((c) => c !== undefined && c !== request.customerId)) {
        throw new HttpProblem('customer_mismatch', 'The customerId is not the customer the bearer token was issued to');
      }
    }
    if (!config.customerRateLimit) return;
    if (options.globalLimiter) await consumeOrRefuse(options.globalLimiter, 'global', 'Crest is taking all the orders it can');
    const customerId = request.customerId ?? (request.body as { customerId?: string } | undefined)?.customerId ?? 'anonymous';
    if (options.customerLimiter) await consumeOrRefuse(options.customerLimiter, customerId, 'Too many orders from this customer');
  });

  app.addHook('onSend', async (request, reply, payload) => {
    // (`complete` is undefined on injected requests, which have no connection to close)
    if (request.raw.complete === false) closeGently(request, reply);
    return payload;
  });

  if (options.onResponse) {
    const observe = options.onResponse;
    app.addHook('onResponse', async (request, reply) => {
      observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000, request.problemCode);
    });
  }

  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      retryAfter: 1,
      exposeStatusRoute: false,
      pressureHandler: (request, reply) => {
        void sendProblem(new HttpProblem('overloaded', 'Shedding load; retry shortly', {}, { 'retry-after': '1' }), request, reply);
      },
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'Crest', version: '1.0.0', description: 'Event-sourced orders and inventory for flash sales' },
      components: {
        securitySchemes: {
          admin: { type: 'http', scheme: 'bearer' },
          customer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Required on customer routes when CREST_CUSTOMER_AUTH=jwt; `sub` is the customer.' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const routes of options.routes) await app.register(routes);
  return app;
};
