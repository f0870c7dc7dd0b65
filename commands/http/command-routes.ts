import type { FastifyContextConfig, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { ProductCommands } from '../catalog/product-commands';
import type { SaleCommands } from '../sales/sale-commands';
import { CommandRejectedError, InvalidSignatureError } from '../errors';
import type { StockCommands } from '../inventory/stock-commands';
import type { CommandContext } from '../metadata';
import type { PaymentCallbacks } from '../payments/payment-callbacks';
import { verifyWebhookSignature } from '../payments/webhook-signature';
import type { Clock } from '../ports';
import type { OrderCommands, PlaceOrderResult } from '../orders/order-commands';
import {
  AdjustmentBody,
  AdjustmentResponse,
  CancelResponse,
  OrderParams,
  OrderPlacedResponse,
  PlaceOrderBody,
  PlaceOrderHeaders,
  PaymentBody,
  PaymentResponse,
  PositionResponse,
  PutProductBody,
  ReceiptBody,
  ReceiptResponse,
  SkuParams,
  WebhookBody,
  PutSaleBody,
  SaleParams,
  SalePositionResponse,
  WebhookResponse,
} from './schemas';

export interface CommandRouteDeps {
  readonly products: ProductCommands;
  readonly sales: SaleCommands;
  readonly stock: StockCommands;
  readonly orders: OrderCommands;
  readonly paymentCallbacks: PaymentCallbacks;
  readonly webhookSecrets: readonly string[];
  readonly clock: Clock;
  readonly orderWaitMs: number;
}

const contextOf = (request: FastifyRequest): CommandContext =>
  request.traceSpan ? { commandId: randomUUID(), correlationId: request.id, span: request.traceSpan } : { commandId: randomUUID(), correlationId: request.id };

/** Any command may meet a stream too busy to write, or a store that is down. */
const commandProblems = ['concurrency_conflict', 'unavailable'] as const;
const admin = (...problems: ProblemCodes) => ({ admin: true, problems: [...commandProblems, ...problems] }) as const;
type ProblemCodes = NonNullable<FastifyContextConfig['problems']>;
const adminSecurity = [{ admin: [] }];
const customer = (...problems: ProblemCodes) => ({ customer: true, problems: [...commandProblems, ...problems] }) as const;
/** The customer JWT is required only with CREST_CUSTOMER_AUTH=jwt. */
const customerSecurity: Array<Record<string, string[]>> = [{ customer: [] }, {}];

const TIMED_OUT = Symbol('timed out');
const within = <T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
};

/** The command API: what admins and checkout call. Every success carries the global position of its last event. */
/** The detail of a refused order, by the refusal's code. */
const refusalMessages: Readonly<Record<string, string>> = {
  out_of_stock: 'Not enough stock for',
  sale_not_started: 'Not on sale yet',
  purchase_limit_exceeded: 'Past the limit per customer for',
  sale_changed: "The sale changed while ordering; order again",
};

export const commandRoutes =
  (deps: CommandRouteDeps): FastifyPluginAsync =>
  async (root) => {
    const app = root.withTypeProvider<ZodTypeProvider>();

    app.put(
      '/v1/products/:sku',
      { config: admin(), schema: { tags: ['catalogue'], security: adminSecurity, params: SkuParams, body: PutProductBody, response: { 200: PositionResponse, 201: PositionResponse } } },
      async (request, reply) => {
        const { created, ...body } = await deps.products.upsert(request.params.sku, request.body, contextOf(request));
        return reply.status(created ? 201 : 200).send(body);
      },
    );

    app.delete(
      '/v1/products/:sku',
      { config: admin('unknown_sku'), schema: { tags: ['catalogue'], security: adminSecurity, params: SkuParams, response: { 200: PositionResponse } } },
      async (request) => deps.products.delist(request.params.sku, contextOf(request)),
    );

    app.put(
      '/v1/sales/:saleId',
      { config: admin('unknown_sku', 'invalid_sale_window', 'sale_overlaps', 'sale_sku_changed'), schema: { tags: ['sales'], security: adminSecurity, params: SaleParams, body: PutSaleBody, response: { 200: SalePositionResponse, 201: SalePositionResponse } } },
      async (request, reply) => {
        const { created, ...body } = await deps.sales.schedule(request.params.saleId, request.body, contextOf(request));
        return reply.status(created ? 201 : 200).send(body);
      },
    );

    app.delete(
      '/v1/sales/:saleId',
      { config: admin('unknown_sale'), schema: { tags: ['sales'], security: adminSecurity, params: SaleParams, response: { 200: SalePositionResponse } } },
      async (request) => deps.sales.cancel(request.params.saleId, contextOf(request)),
    );

    app.post(
      '/v1/inventory/:sku/receipts',
      { config: admin('unknown_sku'), schema: { tags: ['stock'], security: adminSecurity, params: SkuParams, body: ReceiptBody, response: { 200: ReceiptResponse } } },
      async (request) => deps.stock.receive(request.params.sku, request.body, contextOf(request)),
    );

    app.post(
      '/v1/inventory/:sku/adjustments',
      { config: admin('unknown_sku', 'insufficient_stock'), schema: { tags: ['stock'], security: adminSecurity, params: SkuParams, body: AdjustmentBody, response: { 200: AdjustmentResponse } } },
      async (request) => deps.stock.adjust(request.params.sku, request.body, contextOf(request)),
    );

    app.post(
      '/v1/orders',
      {
        config: { ...customer('out_of_stock', 'sale_not_started', 'purchase_limit_exceeded', 'sale_changed', 'unknown_sku', 'idempotency_key_reused', 'reservation_mismatch'), customerRateLimit: true },
        schema: {
          tags: ['checkout'],
          security: customerSecurity,
          headers: PlaceOrderHeaders,
          body: PlaceOrderBody,
          response: { 200: OrderPlacedResponse, 201: OrderPlacedResponse, 202: OrderPlacedResponse },
        },
      },
      async (request, reply) => {
        const { customerId, lines } = request.body;
        const placing = deps.orders.place({ customerId, idempotencyKey: request.headers['idempotency-key'], lines }, contextOf(request));
        const result: PlaceOrderResult | typeof TIMED_OUT = await within(placing, deps.orderWaitMs);
        if (result === TIMED_OUT) {
          const orderId = deps.orders.orderIdFor(customerId, request.headers['idempotency-key']);
          deps.orders.announcePending(orderId);
          return reply.status(202).header('location', `/v1/orders/${orderId}`).send({ orderId, status: 'pending' });
        }
        switch (result.kind) {
          case 'placed':
          case 'existing': {
            const { order, position } = result;
            const status = result.kind === 'placed' ? 201 : 200;
            return reply
              .status(status)
              .header('location', `/v1/orders/${order.orderId}`)
              .send({ orderId: order.orderId, status: order.status, totalCents: order.totalCents, expiresAt: order.expiresAt, position });
          }
          case 'refused':
            throw new CommandRejectedError({ code: result.code, message: `${refusalMessages[result.code] ?? 'Cannot be had'}: ${result.skus.join(', ')}`, details: { ...result.details, skus: result.skus } });
        }
      },
    );

    app.post(
      '/v1/orders/:id/cancel',
      { config: customer('order_not_found', 'order_not_cancellable'), schema: { tags: ['checkout'], security: customerSecurity, params: OrderParams, response: { 200: CancelResponse } } },
      async (request) => deps.orders.cancel(request.params.id, contextOf(request), request.customerId),
    );

    app.post(
      '/v1/orders/:id/payment',
      { config: customer('order_not_found', 'order_not_payable'), schema: { tags: ['checkout'], security: customerSecurity, params: OrderParams, body: PaymentBody, response: { 202: PaymentResponse } } },
      async (request, reply) => reply.status(202).send(await deps.orders.requestPayment(request.params.id, request.body.paymentToken, contextOf(request), request.customerId)),
    );

    app.post(
      '/v1/payments/webhook',
      {
        config: { problems: [...commandProblems, 'invalid_signature', 'payment_mismatch'] },
        schema: {
          tags: ['payments'],
          description:
            'Provider callbacks, signed with `Crest-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` (several v1 values allowed). ' +
            "A repeated `id` answers 200 and changes nothing. `paymentId` must be the payment the order issued and `amountCents` its total; otherwise 422 `payment_mismatch`, and nothing changes.",
          body: WebhookBody,
          response: { 200: WebhookResponse },
        },
        // the signature is checked on the raw body before anything else looks at it
        preValidation: async (request) => {
          const header = request.headers['crest-signature'];
          const check = verifyWebhookSignature(typeof header === 'string' ? header : undefined, request.rawBody ?? '', deps.webhookSecrets, Math.floor(deps.clock.now().getTime() / 1000));
          if (!check.ok) throw new InvalidSignatureError(check.reason);
        },
      },
      async (request) => {
        const { recorded } = await deps.paymentCallbacks.record(request.body, contextOf(request));
        return { received: true as const, recorded };
      },
    );
  };
