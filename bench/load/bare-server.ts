/**
 * The same-run HTTP baselines: a bare Fastify app (no validation, no logging, no hooks) in the server process, next
 * to Crest. `POST /noop` parses a ~200-byte JSON body and answers 202; `GET /bare` answers a small JSON document.
 */
import Fastify from 'fastify';

/** The request body the no-op POST is measured with (~200 bytes, like the notes' wrk baseline). */
export const NOOP_BODY = JSON.stringify({
  customerId: 'cust-000123',
  lines: [
    { sku: 'HOT-0001', quantity: 1 },
    { sku: 'HOT-0002', quantity: 2 },
  ],
  note: 'a no-op body of about two hundred bytes, parsed as JSON and then ignored by the route',
  padding: 'xxxxxxxxxxxxxxxxxxxx',
});

const ACCEPTED = { orderId: 'ord_0000000000000000000000', status: 'pending' };
const PRODUCT = { sku: 'BARE-1', name: 'Bare product', category: 'cat-1', priceCents: 1999, description: 'small JSON', available: 10, soldOut: false };

/** Size of the bare GET's answer, for the printed conditions. */
export const BARE_GET_BYTES = Buffer.byteLength(JSON.stringify(PRODUCT));

export interface BareServer {
  readonly url: string;
  close(): Promise<void>;
}

/** `bodies` adds GET routes answering fixed JSON text: the same bytes as a Crest answer, without Crest's work. */
export const startBareServer = async (bodies: Readonly<Record<string, string>> = {}): Promise<BareServer> => {
  const app = Fastify({ logger: false });
  app.post('/noop', async (_request, reply) => reply.status(202).send(ACCEPTED));
  app.get('/bare', async () => PRODUCT);
  for (const [path, body] of Object.entries(bodies)) app.get(path, async (_request, reply) => reply.type('application/json; charset=utf-8').send(body));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
};
