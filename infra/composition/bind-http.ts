import type { Container } from 'inversify';
import type { CrestConfig } from '../config/config';
import type { Connections } from './connections';
import { Tokens, type CompositionOptions } from './tokens';
import { randomBytes } from 'node:crypto';
import { commandRoutes } from '../../commands/http/command-routes';
import { readRoutes } from '../../read-api/http/read-routes';
import { buildHttpApp } from '../http/app';
import { createCustomerAuth } from '../http/customer-auth';
import { DashboardData } from '../http/dashboard/dashboard-data';
import { dashboardRoutes } from '../http/dashboard/dashboard-routes';
import { opsRoutes } from '../http/ops-routes';
import { rebuildRoutes } from '../../projections/http/rebuild-routes';
import { perSecondLimit } from '../redis/redis-rate-limiter';

/** The HTTP apps: the whole API, and the health-and-metrics app of a worker role; their tokens, limits and customer auth. */
export const bindHttp = (c: Container, config: CrestConfig, connections: Connections, options: CompositionOptions): void => {
  c.bind(Tokens.AdminToken).toConstantValue(
    config.CREST_ADMIN_TOKEN ? { token: config.CREST_ADMIN_TOKEN, generated: false } : { token: randomBytes(24).toString('base64url'), generated: true },
  );
  c.bind(Tokens.HttpApp).toDynamicValue(async (ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    const limit = (name: string, perSecond: number) => perSecondLimit(connections.redis, { name, perSecond, prefix: config.CREST_REDIS_PREFIX });
    const store = ctx.get(Tokens.EventStore);
    const storefront = ctx.get(Tokens.Storefront);
    const sales = ctx.get(Tokens.SaleCalendar);
    return buildHttpApp({
      logger: ctx.get(Tokens.Logger),
      adminToken: ctx.get(Tokens.AdminToken).token,
      customerLimiter: limit('customer', config.CREST_RATE_LIMIT_CUSTOMER_PER_SEC),
      globalLimiter: limit('global', config.CREST_RATE_LIMIT_GLOBAL_PER_SEC),
      ipLimiter: limit('ip', config.CREST_RATE_LIMIT_IP_PER_SEC),
      customerAuth:
        config.CREST_CUSTOMER_AUTH === 'jwt'
          ? createCustomerAuth({
              secret: config.CREST_CUSTOMER_JWT_SECRET,
              jwksUrl: config.CREST_CUSTOMER_JWKS_URL,
              issuer: config.CREST_CUSTOMER_JWT_ISSUER,
              audience: config.CREST_CUSTOMER_JWT_AUDIENCE,
            })
          : undefined,
      requestTimeoutMs: config.CREST_HTTP_REQUEST_TIMEOUT_MS,
      maxEventLoopDelayMs: config.CREST_MAX_EVENT_LOOP_DELAY_MS,
      tracerProvider: ctx.get(Tokens.TracerProvider),
      onResponse: (route, method, status, seconds, code) => metrics.observeHttp(route, method, status, seconds, code),
      routes: [
        opsRoutes({
          registry: metrics.registry,
          ready: () => ctx.get(Tokens.Progress).ready() && (options.role === 'serve' || ctx.get(Tokens.CheckoutRunner).started),
          stalled: () => metrics.stalledFollowers(config.CREST_FOLLOWER_STALL_MS),
        }),
        readRoutes({
          storefront,
          minPositionWaitMs: config.CREST_MIN_POSITION_WAIT_MS,
          cacheControl: 'public, max-age=1, stale-while-revalidate=5',
          logHead: () => store.headPosition(),
          sales,
          clock: ctx.get(Tokens.Clock),
        }),
        dashboardRoutes({
          public: config.CREST_DASHBOARD_PUBLIC,
          data: new DashboardData({
            registry: metrics.registry,
            hotSkus: (limit) => metrics.hotSkus(limit),
            sales,
            inventory: (sku) => storefront.inventory(sku),
            // an API node of the cluster has no checkout saga (and no writers: its hot SKUs are the sale SKUs only)
            runsCheckout: options.role !== 'serve',
          }),
        }),
        ...(options.role === 'serve' ? [] : [rebuildRoutes({ readModels: ctx.get(Tokens.BlueGreen) })]),
        commandRoutes({
          products: ctx.get(Tokens.Products),
          sales: ctx.get(Tokens.Sales),
          stock: ctx.get(Tokens.Stock),
          orders: ctx.get(Tokens.Orders),
          paymentCallbacks: ctx.get(Tokens.PaymentCallbacks),
          webhookSecrets: ctx.get(Tokens.WebhookSecret).secrets,
          clock: ctx.get(Tokens.Clock),
          orderWaitMs: config.CREST_ORDER_WAIT_MS,
        }),
      ],
    });
  });
  c.bind(Tokens.OpsApp).toDynamicValue(async (ctx) => {
    const metrics = ctx.get(Tokens.Metrics);
    return buildHttpApp({
      logger: ctx.get(Tokens.Logger),
      adminToken: ctx.get(Tokens.AdminToken).token,
      customerLimiter: undefined,
      globalLimiter: undefined,
      maxEventLoopDelayMs: 0,
      routes: [
        opsRoutes({ registry: metrics.registry, ready: () => ctx.get(Tokens.WorkerReady)(), stalled: () => metrics.stalledFollowers(config.CREST_FOLLOWER_STALL_MS) }),
        // the projection worker builds the read models, so it is where a blue/green rebuild runs in a cluster
        ...(options.role === 'projections' ? [rebuildRoutes({ readModels: ctx.get(Tokens.BlueGreen) })] : []),
      ],
    });
  });
};
