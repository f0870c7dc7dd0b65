import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { identifier, orderIdSchema, skuSchema } from '../../domain/kernel/event';
import { NotFoundError, StaleReadModelError, UnknownPositionError } from '../errors';
import type { Served } from '../cache/read-cache';
import type { Rendered, Storefront } from '../storefront';
import type { SaleQueries } from '../ports';

export interface ReadRouteDeps {
  readonly storefront: Storefront;
  /** The bound on how long a read with X-Min-Position waits for the read model. */
  readonly minPositionWaitMs: number;
  /** Cache-Control for product cards and browse pages. */
  readonly cacheControl: string;
  /** The event log's head: an X-Min-Position beyond it is answered at once instead of after the wait. */
  readonly logHead?: () => Promise<number | undefined>;
  /** Flash sales: the sale routes and the card's `sale`. */
  readonly sales?: SaleQueries;
  readonly clock?: { now(): Date };
}

/** Closer than this to a sale's start or end, a card is revalidated on every use: its `sale.status` is about to change. */
const SALE_BOUNDARY_MS = 6000;

const MinPositionHeaders = z.object({
  'x-min-position': z
    .string()
    .regex(/^\d{1,15}$/, 'X-Min-Position must be decimal digits (a position from a command response)')
    .optional(),
});

const BrowseQuerystring = z.object({
  category: z.string().min(1).max(64).optional(),
  q: z.string().min(1).max(200).optional(),
  minPrice: z.coerce.number().int().min(0).optional(),
  maxPrice: z.coerce.number().int().min(0).optional(),
  sort: z.enum(['price', '-price', 'name']).default('name'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(1024).optional().describe('Opaque: the nextCursor of a previous page, as it is; any other value is refused with 400 validation_failed'),
});

const PagedQuerystring = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(1024).optional().describe('Opaque: the nextCursor of a previous page, as it is; any other value is refused with 400 validation_failed'),
});

const SaleView = z.object({
  saleId: z.string(),
  sku: z.string(),
  priceCents: z.number(),
  startsAt: z.string(),
  endsAt: z.string(),
  perCustomerLimit: z.number(),
  status: z.enum(['scheduled', 'live', 'ended', 'cancelled']),
});
const SalesPage = z.object({ items: z.array(SaleView), nextCursor: z.string().nullable() });
const SalesQuerystring = z.object({
  status: z.enum(['scheduled', 'live', 'ended', 'cancelled']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a cursor is the nextCursor of a previous page').optional(),
});
const ProductCard = z.object({
  sku: z.string(),
  name: z.string(),
  category: z.string(),
  priceCents: z.number(),
  description: z.string(),
  available: z.number(),
  soldOut: z.boolean(),
  sale: SaleView.nullable().optional(),
});
const BrowsePage = z.object({ items: z.array(ProductCard.omit({ description: true })), nextCursor: z.string().nullable() });
const OrderView = z.object({
  orderId: z.string(),
  customerId: z.string(),
  status: z.string(),
  lines: z.array(z.object({ sku: z.string(), quantity: z.number(), priceCents: z.number(), saleId: z.string().optional() })),
  totalCents: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  expiresAt: z.string().optional(),
});
const CustomerOrdersPage = z.object({
  items: z.array(z.object({ orderId: z.string(), status: z.string(), totalCents: z.number(), createdAt: z.string() })),
  nextCursor: z.string().nullable(),
});
const InventoryView = z.object({ sku: z.string(), received: z.number(), adjusted: z.number(), available: z.number(), reserved: z.number(), sold: z.number() });

/**
 * Marks an answer served from what was last read because the read models are unavailable: `X-Crest-Stale: true`
 * and the (RFC 7234) `Warning: 110` "Response is Stale".
 */
const STALE_HEADERS = { 'x-crest-stale': 'true', warning: '110 - "Response is Stale"' } as const;

/** What any read of the read models can answer besides its own refusals: a bad or unreached position, a store that is down. */
const readProblems = ['unknown_position', 'stale_read_model', 'unavailable'] as const;
const reads = (...own: Array<'unknown_sku' | 'order_not_found'>) => ({ problems: [...readProblems, ...own] });
/** A card or page whose ETag the client already has (If-None-Match): no body. */
const NotModified = z.null().describe('Not modified: the ETag sent in If-None-Match is current');

const markStale = (reply: FastifyReply, served: Served<unknown>): void => {
  if (served.stale) reply.headers(STALE_HEADERS);
};

/** The customer JWT is required only with CREST_CUSTOMER_AUTH=jwt. */
const customerSecurity: Array<Record<string, string[]>> = [{ customer: [] }, {}];

/**
 * The storefront read API. Every route honours X-Min-Position (read-your-writes, bounded). When the read models are
 * unavailable, a read is answered from the last value this node read for it, marked stale (see STALE_HEADERS), and
 * only a read with no such value gets `503 unavailable`.
 */
export const readRoutes =
  (deps: ReadRouteDeps): FastifyPluginAsync =>
  async (root) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const { storefront } = deps;

    /** The log's head when `wanted` is beyond it (no wait can reach it), else undefined; an unreadable head means wait. */
    const headBelow = async (wanted: number): Promise<number | undefined> => {
      if (!deps.logHead) return undefined;
      let head: number | undefined;
      try {
        head = await deps.logHead();
      } catch {
        return undefined;
      }
      const reached = head ?? 0;
      return wanted > reached ? reached : undefined;
    };

    const minPositionOf = async (request: FastifyRequest): Promise<number | undefined> => {
      const header = (request.headers as { 'x-min-position'?: string })['x-min-position'];
      if (header === undefined) return undefined;
      const wanted = Number(header);
      // the head is consulted only when a wait would start, so reads that are already satisfied pay nothing
      if (storefront.progress.position < wanted) {
        const head = await headBelow(wanted);
        if (head !== undefined) throw new UnknownPositionError(wanted, head);
      }
      if (!(await storefront.progress.waitFor(wanted, deps.minPositionWaitMs))) throw new StaleReadModelError(wanted, storefront.progress.position);
      return wanted;
    };

    const sendRendered = (request: FastifyRequest, reply: FastifyReply, served: Served<Rendered>, cacheControl = deps.cacheControl) => {
      const rendered = served.value;
      markStale(reply, served);
      reply.header('etag', rendered.etag).header('cache-control', cacheControl).type('application/json; charset=utf-8');
      if (request.headers['if-none-match'] === rendered.etag) return reply.status(304).send();
      return reply.send(rendered.body);
    };

    app.get(
      '/v1/products',
      { config: reads(), schema: { tags: ['storefront'], querystring: BrowseQuerystring, headers: MinPositionHeaders, response: { 200: BrowsePage, 304: NotModified } } },
      async (request, reply) => {
        const minPosition = await minPositionOf(request);
        const { q, ...query } = request.query;
        return sendRendered(request, reply, await storefront.browse({ ...query, text: q }, minPosition));
      },
    );

    app.get(
      '/v1/sales/:saleId',
      { config: { problems: ['unknown_sale'] }, schema: { tags: ['sales'], params: z.object({ saleId: skuSchema }), response: { 200: SaleView } } },
      async (request) => {
        const sale = deps.sales?.get(request.params.saleId);
        if (!sale) throw new NotFoundError('unknown_sale', `No sale ${request.params.saleId}`);
        return sale;
      },
    );

    app.get('/v1/sales', { schema: { tags: ['sales'], querystring: SalesQuerystring, response: { 200: SalesPage } } }, async (request) => {
      const page = deps.sales?.list({ limit: request.query.limit, ...(request.query.status ? { status: request.query.status } : {}), ...(request.query.cursor ? { after: request.query.cursor } : {}) }) ?? { items: [], next: undefined };
      return { items: [...page.items], nextCursor: page.next ?? null };
    });

    app.get(
      '/v1/products/:sku',
      { config: reads('unknown_sku'), schema: { tags: ['storefront'], params: z.object({ sku: skuSchema }), headers: MinPositionHeaders, response: { 200: ProductCard, 304: NotModified } } },
      async (request, reply) => {
        const minPosition = await minPositionOf(request);
        const card = await storefront.productCard(request.params.sku, minPosition);
        if (!card.value) throw new NotFoundError('unknown_sku', `No product is listed as ${request.params.sku}`);
        if (!deps.sales) return sendRendered(request, reply, { value: card.value, stale: card.stale });
        // the sale is not in the cached card: its status turns with the clock, with no event to invalidate anything
        const sale = deps.sales.forSku(request.params.sku) ?? null;
        const body = `${card.value.body.slice(0, -1)},"sale":${JSON.stringify(sale)}}`;
        const etag = sale ? `${card.value.etag.slice(0, -1)}-${sale.saleId}-${sale.status}-${Date.parse(sale.startsAt)}-${Date.parse(sale.endsAt)}-${sale.priceCents}-${sale.perCustomerLimit}"` : card.value.etag;
        const now = (deps.clock ?? { now: () => new Date() }).now().getTime();
        const boundary = sale ? (sale.status === 'scheduled' ? Date.parse(sale.startsAt) : Date.parse(sale.endsAt)) : Number.POSITIVE_INFINITY;
        return sendRendered(request, reply, { value: { body, etag }, stale: card.stale }, boundary - now < SALE_BOUNDARY_MS ? 'no-cache' : deps.cacheControl);
      },
    );

    app.get(
      '/v1/orders/:id',
      { config: { customer: true, ...reads('order_not_found') }, schema: { tags: ['storefront'], security: customerSecurity, params: z.object({ id: orderIdSchema }), headers: MinPositionHeaders, response: { 200: OrderView } } },
      async (request, reply) => {
        const minPosition = await minPositionOf(request);
        const served = await storefront.order(request.params.id, minPosition);
        const order = served.value;
        // another customer's order is answered exactly as an unknown one
        if (!order || (request.customerId !== undefined && order.customerId !== request.customerId)) throw new NotFoundError('order_not_found', `No order ${request.params.id}`);
        markStale(reply, served);
        const { position: _position, lines, ...view } = order;
        return { ...view, lines: [...lines] };
      },
    );

    app.get(
      '/v1/customers/:customerId/orders',
      { config: { customer: true, ...reads() }, schema: { tags: ['storefront'], security: customerSecurity, params: z.object({ customerId: identifier }), querystring: PagedQuerystring, headers: MinPositionHeaders, response: { 200: CustomerOrdersPage } } },
      async (request, reply) => {
        const minPosition = await minPositionOf(request);
        const served = await storefront.customerOrders(request.params.customerId, request.query.limit, request.query.cursor, minPosition);
        markStale(reply, served);
        return served.value;
      },
    );

    app.get(
      '/v1/inventory/:sku',
      { config: reads('unknown_sku'), schema: { tags: ['operations'], params: z.object({ sku: skuSchema }), headers: MinPositionHeaders, response: { 200: InventoryView } } },
      async (request, reply) => {
        const minPosition = await minPositionOf(request);
        const served = await storefront.inventory(request.params.sku, minPosition);
        if (!served.value) throw new NotFoundError('unknown_sku', `No stock has been recorded for ${request.params.sku}`);
        markStale(reply, served);
        return served.value;
      },
    );
  };
