import { expect } from 'chai';
import { relative } from 'node:path';
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../client/crest-api';
import { CLIENT_TYPES_PATH, REGENERATE_COMMAND, committedClientTypes, fetchDocumentFromEmbeddedCrest, generateClientTypes } from '../client/generate';
import { ADMIN_TOKEN, startCrest, type TestCrest } from '../support/crest-harness';
import { waitFor } from '../support/wait-for';

/** Where two texts first differ, as one line each side; undefined when they are equal. */
const firstDifference = (committed: string, generated: string): string | undefined => {
  if (committed === generated) return undefined;
  const a = committed.split('\n');
  const b = generated.split('\n');
  let line = 0;
  while (line < a.length && line < b.length && a[line] === b[line]) line++;
  return `first difference at line ${line + 1}: committed ${JSON.stringify(a[line] ?? '<end of file>')}, generated ${JSON.stringify(b[line] ?? '<end of file>')}`;
};

/**
 * The TypeScript client a storefront or checkout team generates from GET /openapi.json (issue 17, item 5): the committed
 * types are what the generator makes of the document a Crest serves now, and the calls below type-check against them
 * (`tsc --noEmit -p .` covers this file) and work against a real Crest.
 */
describe('generated TypeScript client (openapi-typescript + openapi-fetch)', function () {
  this.timeout(60_000);
  let crest: TestCrest;
  let client: Client<paths>;
  let admin: Client<paths>;
  before(async () => {
    crest = await startCrest();
    client = createClient<paths>({ baseUrl: crest.url });
    admin = createClient<paths>({ baseUrl: crest.url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  });
  after(() => crest.dispose());

  it(`is what \`${REGENERATE_COMMAND}\` generates from the /openapi.json Crest serves now`, async () => {
    // given the document an embedded Crest serves now, with its default settings (what the generator reads)
    const document = await fetchDocumentFromEmbeddedCrest();
    // when the generator turns it into types, twice
    const generated = await generateClientTypes(document);
    const again = await generateClientTypes(document);
    // then it does so deterministically, and the committed file is exactly that
    expect(again === generated, 'the generator gave different bytes for the same document').to.equal(true);
    const difference = firstDifference(committedClientTypes(), generated);
    if (difference !== undefined) {
      expect.fail(
        `${relative(process.cwd(), CLIENT_TYPES_PATH)} is out of date with the API's OpenAPI document (${difference}). ` +
          `Run \`${REGENERATE_COMMAND}\` and commit the regenerated file.`,
      );
    }
  });

  it('lists a product, receives stock, places an order, pays it and reads it back confirmed, all through typed calls', async () => {
    // given a product listed and stocked through the admin routes
    const listed = await admin.PUT('/v1/products/{sku}', {
      params: { path: { sku: 'GEN-CLIENT-1' } },
      body: { name: 'Generated client tee', category: 'apparel', priceCents: 2500 },
    });
    expect([listed.response.status, listed.data?.sku]).to.deep.equal([201, 'GEN-CLIENT-1']);
    const received = await admin.POST('/v1/inventory/{sku}/receipts', {
      params: { path: { sku: 'GEN-CLIENT-1' } },
      body: { quantity: 10, receiptId: 'gen-client-receipt-1' },
    });
    expect(received.response.status).to.equal(200);
    expect(received.data).to.include({ sku: 'GEN-CLIENT-1', received: 10, available: 10 });

    // when a customer places an order with an Idempotency-Key and pays it
    const placed = await client.POST('/v1/orders', {
      params: { header: { 'idempotency-key': 'gen-client-order-0001' } },
      body: { customerId: 'gen-client-customer', lines: [{ sku: 'GEN-CLIENT-1', quantity: 2 }] },
    });
    expect(placed.response.status).to.equal(201);
    if (!placed.data) expect.fail(`placing the order failed: ${JSON.stringify(placed.error)}`);
    const orderId: string = placed.data.orderId;
    expect(placed.data).to.include({ status: 'awaiting_payment', totalCents: 5000 });
    const paid = await client.POST('/v1/orders/{id}/payment', { params: { path: { id: orderId } }, body: { paymentToken: 'tok_ok' } });
    expect(paid.response.status).to.equal(202);
    if (!paid.data) expect.fail(`paying the order failed: ${JSON.stringify(paid.error)}`);
    expect(paid.data.orderId).to.equal(orderId);
    expect(paid.data.paymentId).to.be.a('string').and.not.be.empty;

    // then reading it back (no earlier than the payment's position) shows it confirmed once the provider has answered
    const readOrder = () => client.GET('/v1/orders/{id}', { params: { path: { id: orderId }, header: { 'x-min-position': String(paid.data.position) } } });
    await waitFor(async () => (await readOrder()).data?.status === 'confirmed', 10_000, `order ${orderId} to be confirmed`);
    const read = await readOrder();
    expect(read.response.status).to.equal(200);
    if (!read.data) expect.fail(`reading the order failed: ${JSON.stringify(read.error)}`);
    expect(read.data).to.include({ orderId, customerId: 'gen-client-customer', status: 'confirmed', totalCents: 5000 });
    expect(read.data.lines).to.deep.equal([{ sku: 'GEN-CLIENT-1', quantity: 2, priceCents: 2500 }]);
  });

  it('reads a refusal through the typed error: ordering more than is available is 409 out_of_stock', async () => {
    // given a product with 3 in stock
    await admin.PUT('/v1/products/{sku}', { params: { path: { sku: 'GEN-CLIENT-2' } }, body: { name: 'Scarce', category: 'apparel', priceCents: 900 } });
    const received = await admin.POST('/v1/inventory/{sku}/receipts', { params: { path: { sku: 'GEN-CLIENT-2' } }, body: { quantity: 3, receiptId: 'gen-client-receipt-2' } });
    expect(received.response.status).to.equal(200);
    // when a customer orders 4
    const refused = await client.POST('/v1/orders', {
      params: { header: { 'idempotency-key': 'gen-client-order-0002' } },
      body: { customerId: 'gen-client-customer', lines: [{ sku: 'GEN-CLIENT-2', quantity: 4 }] },
    });
    // then the client hands back no data and a typed problem with the stable code
    expect(refused.response.status).to.equal(409);
    expect(refused.data).to.equal(undefined);
    if (!refused.error) expect.fail('ordering more than is available was not refused');
    expect(refused.error).to.include({ status: 409, code: 'out_of_stock' });
    expect(refused.error.title).to.be.a('string').and.not.be.empty;
  });

  it('reads a refusal of a read through the typed error: an unknown order is 404 order_not_found', async () => {
    // given an order id that was never placed
    const id = 'ord_genclientgenclientgencli';
    // when it is read
    const read = await client.GET('/v1/orders/{id}', { params: { path: { id } } });
    // then the client hands back the typed problem
    expect(read.response.status).to.equal(404);
    if (!read.error) expect.fail(`reading an unknown order answered ${read.response.status}`);
    expect(read.error).to.include({ status: 404, code: 'order_not_found', instance: `/v1/orders/${id}` });
  });
});

/** Never called: calls the document forbids, which `tsc` must refuse (each `@ts-expect-error` fails the type-check if the call were accepted). */
export const _refusedAtCompileTime = async (client: Client<paths>): Promise<void> => {
  // @ts-expect-error the Idempotency-Key header is required
  void client.POST('/v1/orders', { body: { customerId: 'c', lines: [{ sku: 'S', quantity: 1 }] } });
  // @ts-expect-error quantity is an integer, not a string
  void client.POST('/v1/orders', { params: { header: { 'idempotency-key': 'k0000000' } }, body: { customerId: 'c', lines: [{ sku: 'S', quantity: '1' }] } });
  // @ts-expect-error the payment body is { paymentToken }
  void client.POST('/v1/orders/{id}/payment', { params: { path: { id: 'ord_x' } }, body: { token: 'tok_ok' } });
  // @ts-expect-error there is no such route
  void client.GET('/v1/order/{id}', { params: { path: { id: 'ord_x' } } });
  const { error } = await client.POST('/v1/orders', { params: { header: { 'idempotency-key': 'k0000000' } }, body: { customerId: 'c', lines: [{ sku: 'S', quantity: 1 }] } });
  // @ts-expect-error problem codes are enumerated per route: placing an order never answers sale_overlaps
  void (error?.code === 'sale_overlaps');
};
