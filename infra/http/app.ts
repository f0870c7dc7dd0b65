import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import underPressure from '@fastify/under-pressure';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { CustomerAuthenticator } from './customer-auth';
import { HttpProblem, sendProblem } from './problem';

/** Per-route policy that routes declare in `config` and this module enforces. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** Requires the admin bearer token. */
    admin?: boolean;
    /** Rate-limits by the `customerId` in the body. */
    customerRateLimit?: boolean;
  }
  interface FastifyRequest {
    /** The JSON body exactly as received, for signature checks. */
    rawBody?: string;
  }
}

export interface HttpAppOptions {
  readonly logger: Logger;
  readonly adminToken: string;
  readonly customerLimiter: RateLimiterAbstract | undefined;
  readonly globalLimiter: RateLimiterAbstract | undefined;
  readonly maxEventLoopDelayMs: number;
  readonly routes: readonly FastifyPluginAsync[];
  readonly onResponse?: (route: string, method: string, status: number, seconds: number) => void;
  readonly isReady?: () => boolean;
  /** With CREST_CUSTOMER_AUTH=jwt: verifies customers on customer routes. */
  readonly customerAuth?: CustomerAuthenticator | undefined;
  /** Per client IP, for requests without a verified customer. */
  readonly ipLimiter?: RateLimiterAbstract | undefined;
  /** Whole-request bound (headers and body); a slower client gets 408 and the connection closes. */
  readonly requestTimeoutMs?: number;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const BODY_LIMIT = 64 * 1024;

const tokenMatches = (given: string, expected: string): boolean => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

const retryAfterSeconds = (ms: number): string => String(Math.max(1, Math.ceil(ms / 1000)));

/** Builds the HTTP app (not listening): one error handler, one JSON parser, and the cross-cutting policies. */
export const buildHttpApp = async (options: HttpAppOptions): Promise<FastifyInstance> => {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT,
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
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body as string;
    parseJson(request, body as string, done);
  });
  app.setErrorHandler((error, request, reply) => sendProblem(error, request, reply));
  app.setNotFoundHandler((request, reply) => sendProblem(new HttpProblem(404, 'not_found', `No route for ${request.method} ${request.url}`), request, reply));

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-correlation-id', request.id);
    if (!request.routeOptions.config.admin) return;
    const header = request.headers.authorization;
    if (!header) throw new HttpProblem(401, 'unauthorized', 'Send Authorization: Bearer <admin token>', {}, { 'www-authenticate': 'Bearer' });
    const match = /^bearer +(.+)$/i.exec(header);
    if (!match || !tokenMatches(match[1]!, options.adminToken)) throw new HttpProblem(403, 'forbidden', 'The admin token does not match');
  });

  app.addHook('preHandler', async (request) => {
    if (!request.routeOptions.config.customerRateLimit) return;
    const customerId = (request.body as { customerId?: string } | undefined)?.customerId ?? 'anonymous';
    for (const [limiter, key] of [
      [options.globalLimiter, 'global'],
      [options.customerLimiter, customerId],
    ] as const) {
      if (!limiter) continue;
      try {
        await limiter.consume(key);
      } catch (refusal) {
        const ms = (refusal as { msBeforeNext?: number }).msBeforeNext ?? 1000;
        throw new HttpProblem(429, 'rate_limited', key === 'global' ? 'Crest is taking all the orders it can' : 'Too many orders from this customer', {}, { 'retry-after': retryAfterSeconds(ms) });
      }
    }
  });

  if (options.onResponse) {
    const observe = options.onResponse;
    app.addHook('onResponse', async (request, reply) => {
      observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      retryAfter: 1,
      exposeStatusRoute: false,
      pressureHandler: (request, reply) => {
        void sendProblem(new HttpProblem(503, 'overloaded', 'Shedding load; retry shortly', {}, { 'retry-after': '1' }), request, reply);
      },
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'Crest', version: '1.0.0', description: 'Event-sourced orders and inventory for flash sales' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  for (const routes of options.routes) await app.register(routes);
  return app;
};
