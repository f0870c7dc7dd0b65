import { expect } from 'chai';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tokens } from '../../infra/composition/root';
import { waitFor } from '../support/wait-for';
import { ADMIN_TOKEN, seedProduct, startCrest, type TestCrest } from '../support/crest-harness';

/**
 * CREST_CUSTOMER_AUTH=jwt: customer routes require a bearer JWT whose `sub` is the customer. A missing or invalid
 * token gets 401, a customerId that is not `sub` gets 403, and another customer's order answers 404 as if unknown.
 */

const SECRET = 'customer-jwt-secret-0123456789abcdef';
const ISSUER = 'https://id.crest.test';
const AUDIENCE = 'crest-api';
const hsKey = new TextEncoder().encode(SECRET);

const hs256 = (sub: string, overrides: { secret?: string; expiresAt?: number; audience?: string } = {}): Promise<string> =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer(ISSUER)
    .setAudience(overrides.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(overrides.expiresAt ?? Math.floor(Date.now() / 1000) + 300)
    .sign(overrides.secret ? new TextEncoder().encode(overrides.secret) : hsKey);

const unsigned = (sub: string): string => new UnsecuredJWT({}).setSubject(sub).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').encode();

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

const orderBody = (customerId: string, sku: string) => ({ customerId, lines: [{ sku, quantity: 1 }] });

describe('customer auth with an HS256 secret (e2e)', () => {
  let crest: TestCrest;
  let alice: string;
  let bob: string;
  const SKU = 'AUTH-SKU';
  const headPosition = (): Promise<number | undefined> => crest.running.container.get(Tokens.EventStore).headPosition();

  const place = (token: string | undefined, customerId: string, key: string) =>
    crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': key, ...(token ? bearer(token) : {}) }, body: orderBody(customerId, SKU) });

  before(async () => {
    crest = await startCrest({
      CREST_CUSTOMER_AUTH: 'jwt',
      CREST_CUSTOMER_JWT_SECRET: SECRET,
      CREST_CUSTOMER_JWT_ISSUER: ISSUER,
      CREST_CUSTOMER_JWT_AUDIENCE: AUDIENCE,
      CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '2',
      // only for requests without a verified customer, so it must not touch these tests' authenticated calls
      CREST_RATE_LIMIT_IP_PER_SEC: '1',
    });
    await seedProduct(crest, SKU, 100);
    alice = await hs256('alice');
    bob = await hs256('bob');
  });
  after(() => crest?.dispose());

  describe('invalid tokens', () => {
    const ORDER = `ord_${'A'.repeat(24)}`;
    const routes: ReadonlyArray<{ method: string; path: string; body?: unknown; headers?: Record<string, string> }> = [
      { method: 'POST', path: '/v1/orders', body: orderBody('alice', SKU), headers: { 'idempotency-key': 'no-token-0001' } },
      { method: 'POST', path: `/v1/orders/${ORDER}/payment`, body: { paymentToken: 'tok_ok' } },
      { method: 'POST', path: `/v1/orders/${ORDER}/cancel` },
      { method: 'GET', path: `/v1/orders/${ORDER}` },
      { method: 'GET', path: '/v1/customers/alice/orders' },
    ];

    for (const route of routes) {
      it(`${route.method} ${route.path} without a token gets 401 with a Bearer challenge and writes nothing`, async () => {
        // given
        const head = await headPosition();

        // when
        const response = await crest.call(route.method, route.path, { headers: { ...(route.headers ?? {}) }, ...(route.body === undefined ? {} : { body: route.body }) });

        // then
        expect([response.status, response.body.code], JSON.stringify(response.body)).to.deep.equal([401, 'unauthorized']);
        expect(response.headers.get('www-authenticate')).to.match(/^Bearer/);
        expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(await headPosition()).to.equal(head);
      });
    }

    const invalid: ReadonlyArray<{ name: string; token: () => Promise<string>; detail: RegExp }> = [
      { name: 'signed with another secret', token: () => hs256('alice', { secret: 'not-the-customer-secret-0123456789' }), detail: /signature/ },
      { name: 'expired a minute ago', token: () => hs256('alice', { expiresAt: Math.floor(Date.now() / 1000) - 60 }), detail: /expired/ },
      { name: "with alg 'none'", token: async () => unsigned('alice'), detail: /algorithm|not a valid/ },
      { name: 'for another audience', token: () => hs256('alice', { audience: 'someone-else' }), detail: /"aud"/ },
      { name: 'that is not a JWT at all', token: async () => 'not.a.jwt', detail: /not a valid JWT/ },
      { name: 'that is the admin token', token: async () => ADMIN_TOKEN, detail: /not a valid JWT/ },
    ];

    for (const c of invalid) {
      it(`a token ${c.name} gets 401 and places nothing`, async () => {
        // given
        const head = await headPosition();

        // when
        const response = await place(await c.token(), 'alice', 'bad-token-0001');

        // then
        expect([response.status, response.body.code], JSON.stringify(response.body)).to.deep.equal([401, 'unauthorized']);
        expect(response.body.detail).to.match(c.detail);
        expect(response.headers.get('www-authenticate')).to.match(/^Bearer error="invalid_token"/);
        expect(await headPosition()).to.equal(head);
      });
    }

    it('HEAD of an order without a token gets 401 too', async () => {
      expect((await crest.call('HEAD', `/v1/orders/${ORDER}`)).status).to.equal(401);
    });

    it('a scheme other than Bearer gets 401', async () => {
      const response = await crest.call('GET', '/v1/customers/alice/orders', { headers: { authorization: `Basic ${alice}` } });
      expect([response.status, response.body.code]).to.deep.equal([401, 'unauthorized']);
    });

    it('a customer token does not open admin routes', async () => {
      const response = await crest.call('PUT', '/v1/products/AUTH-ADMIN', { headers: bearer(alice), body: { name: 'X', category: 'home', priceCents: 1 } });
      expect([response.status, response.body.code]).to.deep.equal([403, 'forbidden']);
    });
  });

  describe('one customer and another', () => {
    let aliceOrder: string;

    before(async () => {
      const placed = await place(alice, 'alice', 'alice-order-0001');
      expect(placed.status, JSON.stringify(placed.body)).to.equal(201);
      aliceOrder = placed.body.orderId;
      await waitFor(async () => (await crest.call('GET', `/v1/orders/${aliceOrder}`, { headers: bearer(alice) })).status === 200, 5000, "alice's order in the read model");
    });

    it('refuses to place an order for a customerId that is not the token\'s sub, and writes nothing', async () => {
      // given
      const head = await headPosition();

      // when alice's token places an order in bob's name
      const response = await place(alice, 'bob', 'impersonate-0001');

      // then
      expect([response.status, response.body.code], JSON.stringify(response.body)).to.deep.equal([403, 'customer_mismatch']);
      expect(response.body.detail).to.match(/customer/).and.not.match(/admin/);
      expect(await headPosition()).to.equal(head);
    });

    it("answers bob's GET, cancel and pay of alice's order with 404 as for an unknown order, and leaves it unchanged", async () => {
      // given alice's order as she sees it
      const before = await crest.call('GET', `/v1/orders/${aliceOrder}`, { headers: bearer(alice) });
      const head = await headPosition();
      const unknown = await crest.call('GET', `/v1/orders/ord_${'Z'.repeat(24)}`, { headers: bearer(bob) });

      // when bob reads, cancels and pays it
      const read = await crest.call('GET', `/v1/orders/${aliceOrder}`, { headers: bearer(bob) });
      const cancel = await crest.call('POST', `/v1/orders/${aliceOrder}/cancel`, { headers: bearer(bob) });
      const pay = await crest.call('POST', `/v1/orders/${aliceOrder}/payment`, { headers: bearer(bob), body: { paymentToken: 'tok_ok' } });

      // then each is a 404 order_not_found, the read exactly like an unknown order's
      for (const response of [read, cancel, pay]) expect([response.status, response.body.code], JSON.stringify(response.body)).to.deep.equal([404, 'order_not_found']);
      expect({ ...read.body, detail: undefined, instance: undefined }).to.deep.equal({ ...unknown.body, detail: undefined, instance: undefined });
      expect(await headPosition()).to.equal(head);
      const after = await crest.call('GET', `/v1/orders/${aliceOrder}`, { headers: bearer(alice) });
      expect(after.body).to.deep.equal(before.body);
      expect(after.body.status).to.equal('awaiting_payment');
    });

    it("refuses bob's listing of alice's orders with 403, and lists alice's own", async () => {
      // when
      const bobs = await crest.call('GET', '/v1/customers/alice/orders', { headers: bearer(bob) });
      const own = await crest.call('GET', '/v1/customers/alice/orders', { headers: bearer(alice) });

      // then
      expect([bobs.status, bobs.body.code]).to.deep.equal([403, 'customer_mismatch']);
      expect(own.status).to.equal(200);
      expect(own.body.items.map((o: { orderId: string }) => o.orderId)).to.include(aliceOrder);
    });

    it('lets alice cancel her own order', async () => {
      const cancelled = await crest.call('POST', `/v1/orders/${aliceOrder}/cancel`, { headers: bearer(alice) });
      expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
      expect(cancelled.body.status).to.equal('cancelled');
    });
  });

  describe('rate limits', () => {
    it("keys the per-customer limit on the token's sub, so a burst is limited whatever else the body says", async () => {
      // given carol and dave, each allowed 2 orders a second
      const carol = await hs256('carol');
      const dave = await hs256('dave');

      // when carol sends 6 orders at once, and also tries one in another customer's name
      const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => place(carol, 'carol', `carol-burst-${i}-0001`)));
      const renamed = await place(carol, 'someone-else', 'carol-renamed-0001');
      const other = await place(dave, 'dave', 'dave-order-0001');

      // then at most 2 a second got through, the rest 429 with Retry-After; renaming is refused; dave is not limited
      const statuses = burst.map((r) => r.status);
      expect(statuses.filter((s) => s === 429).length, JSON.stringify(statuses)).to.be.at.least(2);
      expect(statuses.every((s) => s === 201 || s === 429), JSON.stringify(statuses)).to.equal(true);
      expect(burst.find((r) => r.status === 429)!.headers.get('retry-after')).to.match(/^\d+$/);
      expect([renamed.status, renamed.body.code]).to.deep.equal([403, 'customer_mismatch']);
      expect(other.status, JSON.stringify(other.body)).to.equal(201);
    });

    it('does not apply the per-IP limit to verified customers', async () => {
      const reads = await Promise.all(Array.from({ length: 5 }, () => crest.call('GET', '/v1/customers/bob/orders', { headers: bearer(bob) })));
      expect(reads.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200]);
    });
  });
});

describe('customer auth with a JWKS URL (e2e)', () => {
  let jwksServer: Server;
  let jwksUrl: string;
  let crest: TestCrest;
  let es: { privateKey: CryptoKey; publicJwk: JWK };
  let rs: { privateKey: CryptoKey; publicJwk: JWK };
  const SKU = 'JWKS-SKU';

  const keyPair = async (alg: 'ES256' | 'RS256') => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    return { privateKey, publicJwk: await exportJWK(publicKey) };
  };
  const sign = (sub: string, alg: 'ES256' | 'RS256', kid: string, key: CryptoKey) =>
    new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject(sub).setIssuedAt().setExpirationTime('5m').sign(key);

  before(async () => {
    es = await keyPair('ES256');
    rs = await keyPair('RS256');
    const jwks = JSON.stringify({ keys: [{ ...es.publicJwk, kid: 'es-1', alg: 'ES256', use: 'sig' }, { ...rs.publicJwk, kid: 'rs-1', alg: 'RS256', use: 'sig' }] });
    jwksServer = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    crest = await startCrest({ CREST_CUSTOMER_AUTH: 'jwt', CREST_CUSTOMER_JWKS_URL: jwksUrl });
    await seedProduct(crest, SKU, 10);
  });
  after(async () => {
    await crest?.dispose();
    await new Promise((resolve) => jwksServer?.close(resolve));
  });

  it('accepts ES256 and RS256 tokens signed by keys of the set', async () => {
    // when each customer places and reads an order
    const erin = await sign('erin', 'ES256', 'es-1', es.privateKey);
    const rob = await sign('rob', 'RS256', 'rs-1', rs.privateKey);
    const placedByErin = await crest.call('POST', '/v1/orders', { headers: { 'idempotency-key': 'erin-order-0001', ...bearer(erin) }, body: orderBody('erin', SKU) });
    const listedByRob = await crest.call('GET', '/v1/customers/rob/orders', { headers: bearer(rob) });

    // then
    expect(placedByErin.status, JSON.stringify(placedByErin.body)).to.equal(201);
    expect(listedByRob.status, JSON.stringify(listedByRob.body)).to.equal(200);
  });

  it('refuses an HS256 token (even one keyed with the public key), an unsigned one, and one from a key outside the set', async () => {
    // given tokens that must not pass
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'es-1' }).setSubject('erin').setExpirationTime('5m').sign(new TextEncoder().encode(JSON.stringify(es.publicJwk)));
    const stranger = await keyPair('ES256');
    const forged = await sign('erin', 'ES256', 'es-1', stranger.privateKey);
    const none = new UnsecuredJWT({}).setSubject('erin').setExpirationTime('5m').encode();

    // when each reads erin's orders
    const answers = await Promise.all([confused, forged, none].map((token) => crest.call('GET', '/v1/customers/erin/orders', { headers: bearer(token) })));

    // then all are 401
    for (const answer of answers) expect([answer.status, answer.body.code], JSON.stringify(answer.body)).to.deep.equal([401, 'unauthorized']);
  });

  it('answers 503 unavailable, not 401, when the key set cannot be fetched', async () => {
    // given a Crest whose JWKS URL has nothing listening
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise((resolve) => closed.close(resolve));
    const orphan = await startCrest({ CREST_CUSTOMER_AUTH: 'jwt', CREST_CUSTOMER_JWKS_URL: deadUrl });
    try {
      // when a well-formed token is presented
      const token = await sign('erin', 'ES256', 'es-1', es.privateKey);
      const response = await orphan.call('GET', '/v1/customers/erin/orders', { headers: bearer(token) });

      // then
      expect([response.status, response.body.code], JSON.stringify(response.body)).to.deep.equal([503, 'unavailable']);
      expect(response.headers.get('retry-after')).to.equal('1');
    } finally {
      await orphan.dispose();
    }
  });
});

describe('customer routes with customer auth off (e2e)', () => {
  let crest: TestCrest;
  before(async () => (crest = await startCrest({ CREST_RATE_LIMIT_IP_PER_SEC: '3' })));
  after(() => crest?.dispose());

  it('need no token, and are limited per client IP', async () => {
    // when one address reads an order 10 times at once
    const reads = await Promise.all(Array.from({ length: 10 }, () => crest.call('GET', `/v1/orders/ord_${'B'.repeat(24)}`)));

    // then some pass as before (404: no such order) and the rest are 429 with Retry-After
    const statuses = reads.map((r) => r.status);
    expect(statuses.filter((s) => s === 404).length, JSON.stringify(statuses)).to.be.within(1, 6);
    expect(statuses.filter((s) => s === 429).length, JSON.stringify(statuses)).to.be.at.least(4);
    expect(reads.find((r) => r.status === 429)!.headers.get('retry-after')).to.match(/^\d+$/);
  });

  it('leaves public reads out of the per-IP limit', async () => {
    const reads = await Promise.all(Array.from({ length: 10 }, () => crest.call('GET', '/v1/products/NONE-1')));
    expect(reads.every((r) => r.status === 404)).to.equal(true);
  });
});
