import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { Tokens } from '../../infra/composition/root';
import { ADMIN_TOKEN, seedProduct, startCrest, type TestCrest } from '../support/crest-harness';
import { FaultSale, metricValue, waitForPaidOrders } from '../support/fault-sale';
import { skipOrFail } from '../support/servers';
import { waitFor } from '../support/wait-for';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = resolve(__dirname, '../../docs/img/dashboard.png');
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 720 } };
const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

/** The few browser globals the page functions below use (the project's typings carry no DOM). */
interface DomNode {
  readonly dataset: Record<string, string | undefined>;
  readonly textContent: string | null;
  readonly scrollWidth: number;
}
declare const document: { readonly body: DomNode; readonly documentElement: DomNode; getElementById(id: string): DomNode | null; querySelector(selector: string): DomNode | null };
declare const window: { readonly innerWidth: number };

interface Shown {
  readonly sku: string;
  readonly available: string;
  readonly reserved: string;
  readonly sold: string;
  readonly sale: string;
}

/** The figures the page shows for each SKU, from its stable data attributes. */
const shownSkus = (page: Page): Promise<Shown[]> =>
  page.$$eval('[data-sku]', (cards) =>
    cards.map((card) => {
      const d = (card as unknown as DomNode).dataset;
      return { sku: d.sku ?? '', available: d.available ?? '', reserved: d.reserved ?? '', sold: d.sold ?? '', sale: d.sale ?? '' };
    }),
  );

/** The figures of the same SKUs as `GET /v1/inventory/:sku` answers them, as the page's attributes spell them. */
const inventoryOf = async (crest: TestCrest, shown: readonly Shown[]): Promise<Shown[]> =>
  Promise.all(
    shown.map(async ({ sku, sale }) => {
      const r = await crest.call('GET', `/v1/inventory/${sku}`);
      expect(r.status, `GET /v1/inventory/${sku}: ${JSON.stringify(r.body)}`).to.equal(200);
      return { sku, available: String(r.body.available), reserved: String(r.body.reserved), sold: String(r.body.sold), sale };
    }),
  );

/** Resolves once the page has rendered data newer than it had when called. */
const nextRefresh = async (page: Page): Promise<void> => {
  const seq = await page.$eval('body', (b) => Number((b as unknown as DomNode).dataset.seq));
  await page.waitForFunction((before) => Number(document.body.dataset.seq) > before, seq, { timeout: 10_000 });
};

/** Opens the page in a fresh context; `errors` collects script errors and console errors (a CSP refusal is one). */
const openDashboard = async (browser: Browser, crest: TestCrest, options: BrowserContextOptions, fragment = ''): Promise<{ page: Page; errors: string[] }> => {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`${crest.url}/dashboard${fragment}`);
  return { page, errors };
};

describe('the live sale page (/dashboard)', function () {
  this.timeout(120_000);
  let browser: Browser | undefined;

  before(async function () {
    if (!existsSync(CHROMIUM)) return skipOrFail(this, `the dashboard e2e needs Chromium at ${CHROMIUM} (apt-get install chromium)`);
    try {
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    } catch (error) {
      skipOrFail(this, `Chromium at ${CHROMIUM} did not start: ${(error as Error).message}`);
    }
  });

  after(() => browser?.close());

  describe('with the admin token required (the default)', () => {
    let crest: TestCrest;
    const skus = ['DASH-A', 'DASH-B', 'DASH-C'];

    before(async () => {
      crest = await startCrest();
      for (const sku of skus) await seedProduct(crest, sku, 200);
      await seedProduct(crest, 'DASH-DROP', 50, 4900);
      const now = Date.now();
      const sale = await crest.call('PUT', '/v1/sales/dash-drop', {
        admin: true,
        body: { sku: 'DASH-DROP', priceCents: 2900, startsAt: new Date(now - 60_000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), perCustomerLimit: 1 },
      });
      expect(sale.status, JSON.stringify(sale.body)).to.equal(201);
    });

    after(() => crest?.dispose());

    it('shows each hot SKU as GET /v1/inventory/:sku does, with orders/s by outcome, the p99 and the open orders of a running sale', async () => {
      // given a sale running on three SKUs until stopped (every third order paid; they sell out) and a live flash sale on a fourth
      const sale = new FaultSale({ name: 'dashboard', targets: () => [crest.url], skus, category: 'flash', prefix: 'dash', hangBoundMs: 10_000 });
      const traffic = sale.traffic({ orders: 50_000, clients: 8, maxMs: 60_000, payEvery: 3 });

      // when an operator opens the page with the token in the URL fragment
      const { page, errors } = await openDashboard(browser!, crest, DESKTOP, `#token=${ADMIN_TOKEN}`);

      // then it shows the sale live: every SKU, a rate of placed orders and a p99, over a window of 5 s or more
      await page.waitForFunction(
        (expected) =>
          document.body.dataset.state === 'live' &&
          Number(document.getElementById('window')!.dataset.value) >= 5 &&
          expected.every((sku) => document.querySelector(`[data-sku="${sku}"]`)) &&
          Number(document.getElementById('rate')!.dataset.value) > 0 &&
          Number(document.getElementById('p99')!.dataset.value) > 0 &&
          document.querySelector('[data-outcome="placed"]') !== null,
        [...skus, 'DASH-DROP'],
        { timeout: 30_000 },
      );
      expect(new URL(page.url()).hash, 'the token leaves the address bar').to.equal('');
      const screenshot = await page.screenshot({ fullPage: true });
      expect(screenshot.subarray(1, 4).toString()).to.equal('PNG');
      if (process.env.CREST_UPDATE_SCREENSHOT === '1') {
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        writeFileSync(SCREENSHOT, screenshot);
      }
      const drop = (await shownSkus(page)).find((s) => s.sku === 'DASH-DROP');
      expect(drop?.sale, 'the flash sale SKU carries its sale').to.equal('dash-drop');

      // when the traffic stops and every paid order is confirmed
      await traffic.stop();
      await waitForPaidOrders(crest.running.container.get(Tokens.EventStore), sale, 30_000);
      sale.expectClientsWereAnsweredWell();

      // then, once settled, the page shows for every SKU exactly what the inventory API answers, and the saga's open orders
      let shown: Shown[] = [];
      let api: Shown[] = [];
      await waitFor(
        async () => {
          await nextRefresh(page);
          shown = await shownSkus(page);
          api = await inventoryOf(crest, shown);
          return JSON.stringify(shown) === JSON.stringify(api);
        },
        30_000,
        'the page to show the settled inventory',
      ).catch((error: Error) => {
        throw new Error(`${error.message}: page ${JSON.stringify(shown)} vs API ${JSON.stringify(api)}`);
      });
      expect(shown.map((s) => s.sku)).to.include.members([...skus, 'DASH-DROP']);
      expect(shown.some((s) => Number(s.sold) > 0), 'paid orders show as sold').to.equal(true);
      await nextRefresh(page);
      expect(await shownSkus(page), 'still the same on the next refresh').to.deep.equal(await inventoryOf(crest, shown));
      const awaiting = metricValue(await (await fetch(`${crest.url}/metrics`)).text(), 'crest_checkout_orders_awaiting_payment');
      expect(awaiting).to.be.above(0);
      await page.waitForFunction((n) => document.getElementById('open')!.dataset.value === String(n), awaiting, { timeout: 10_000 });
      expect(errors, 'no script or CSP error').to.deep.equal([]);
      await page.context().close();
    });

    it('refuses the data without the token (401 problem+json) and the page asks for it', async () => {
      // given no token
      // when the data is asked for without one, or with a wrong one
      const bare = await fetch(`${crest.url}/dashboard/data`);
      const wrong = await fetch(`${crest.url}/dashboard/data`, { headers: { authorization: 'Bearer not-the-admin-token' } });
      // then it is refused, as problem+json
      expect(bare.status).to.equal(401);
      expect(bare.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(((await bare.json()) as { code: string }).code).to.equal('unauthorized');
      expect(wrong.status).to.equal(403);
      expect((await crest.call('GET', '/openapi.json')).body.paths['/dashboard/data'].get.security).to.deep.equal([{ admin: [] }]);

      // and the page shell is served to anyone, but shows only the prompt
      const shell = await fetch(`${crest.url}/dashboard`);
      expect(shell.status).to.equal(200);
      expect(shell.headers.get('content-security-policy')).to.include("script-src 'self'");
      const { page } = await openDashboard(browser!, crest, DESKTOP);
      await page.waitForFunction(() => document.body.dataset.state === 'auth', undefined, { timeout: 10_000 });
      expect(await page.isVisible('#token')).to.equal(true);
      expect(await page.isHidden('#live')).to.equal(true);
      expect(await shownSkus(page)).to.deep.equal([]);

      // when a wrong token is entered, then the prompt says so; when the right one is, the figures appear
      await page.fill('#token', 'not-the-admin-token');
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.body.dataset.state === 'auth' && /does not match/.test(document.getElementById('auth-reason')!.textContent ?? ''), undefined, { timeout: 10_000 });
      await page.fill('#token', ADMIN_TOKEN);
      await page.click('button[type=submit]');
      await page.waitForFunction(() => document.body.dataset.state === 'live' && document.querySelector('[data-sku]') !== null, undefined, { timeout: 10_000 });
      await page.context().close();
    });

    it('fits a phone (390x844) without horizontal scroll', async () => {
      // given the page on a phone, showing the SKUs (one with the longest name a SKU may have) and the figures
      const longest = `DASH-LONGEST-${'9'.repeat(51)}`;
      await seedProduct(crest, longest, 10);
      const { page, errors } = await openDashboard(browser!, crest, PHONE, `#token=${ADMIN_TOKEN}`);
      await page.waitForFunction((sku) => document.body.dataset.state === 'live' && document.querySelector(`[data-sku="${sku}"]`) !== null, longest, { timeout: 10_000 });
      // when it is laid out, then nothing is wider than the screen
      const widths = await page.evaluate(() => ({ viewport: window.innerWidth, document: document.documentElement.scrollWidth, body: document.body.scrollWidth }));
      expect(widths.viewport).to.equal(390);
      expect(widths.document, JSON.stringify(widths)).to.be.at.most(widths.viewport);
      expect(widths.body, JSON.stringify(widths)).to.be.at.most(widths.viewport);
      expect(errors).to.deep.equal([]);
      await page.context().close();
    });
  });

  describe('with CREST_DASHBOARD_PUBLIC=true', () => {
    let crest: TestCrest;
    before(async () => {
      crest = await startCrest({ CREST_DASHBOARD_PUBLIC: 'true' });
      await seedProduct(crest, 'PUBLIC-1', 20);
    });
    after(() => crest?.dispose());

    it('serves the data and the page without a token', async () => {
      // given no token
      // when the data is asked for, then it is answered
      const data = await fetch(`${crest.url}/dashboard/data`);
      expect(data.status).to.equal(200);
      expect(data.headers.get('cache-control')).to.equal('no-store');
      // when the page is opened, then it shows the figures and never asks for a token
      const { page } = await openDashboard(browser!, crest, DESKTOP);
      await page.waitForFunction(() => document.body.dataset.state === 'live' && document.querySelector('[data-sku="PUBLIC-1"]') !== null, undefined, { timeout: 10_000 });
      expect(await page.isHidden('#auth')).to.equal(true);
      expect(await shownSkus(page)).to.deep.equal(await inventoryOf(crest, await shownSkus(page)));
      await page.context().close();
      // and the data route is documented as needing no token; the shell is not in the API document
      const spec = await crest.call('GET', '/openapi.json');
      expect(spec.body.paths['/dashboard/data'].get.security).to.deep.equal([]);
      expect(spec.body.paths).not.to.have.property('/dashboard');
    });
  });
});
