import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { parseConfig, type CrestConfig } from '../../infra/config/config';
import { startAllInOne, type RunningCrest } from '../../infra/composition/root';

export interface HttpResponse<T = any> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface CallOptions {
  readonly body?: unknown;
  /** A raw body sent as is (for malformed-input tests). */
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  readonly admin?: boolean;
}

export interface TestCrest {
  readonly url: string;
  readonly adminToken: string;
  readonly dataDir: string;
  readonly running: RunningCrest;
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<HttpResponse<T>>;
  stop(): Promise<void>;
  /** Stops and deletes the data directory. */
  dispose(): Promise<void>;
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** Starts the all-in-one Crest on an ephemeral port over a fresh (or given) data directory. */
export const startCrest = async (overrides: Partial<Record<keyof CrestConfig, string>> = {}, dataDir?: string, options: { clock?: { now(): Date } } = {}): Promise<TestCrest> => {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'crest-test-'));
  const config = parseConfig(
    {},
    {
      PORT: '0',
      CREST_DATA_DIR: dir,
      CREST_ADMIN_TOKEN: ADMIN_TOKEN,
      CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '0',
      CREST_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...overrides,
    },
  );
  const running = await startAllInOne(config, { logger: pino({ level: process.env.CREST_TEST_LOG_LEVEL ?? 'silent' }), ...(options.clock ? { clock: options.clock } : {}) });
  const call = async <T>(method: string, path: string, options: CallOptions = {}): Promise<HttpResponse<T>> => {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.admin) headers.authorization = `Bearer ${ADMIN_TOKEN}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${running.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: leave the text
    }
    return { status: response.status, headers: response.headers, body: parsed as T };
  };
  return {
    url: running.url,
    adminToken: ADMIN_TOKEN,
    dataDir: dir,
    running,
    call,
    stop: () => running.stop(),
    dispose: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

/** Lists a product and receives stock for it. */
export const seedProduct = async (crest: TestCrest, sku: string, quantity: number, priceCents = 1999): Promise<void> => {
  const listed = await crest.call('PUT', `/v1/products/${sku}`, { admin: true, body: { name: `Product ${sku}`, category: 'flash', priceCents } });
  if (listed.status !== 201 && listed.status !== 200) throw new Error(`listing ${sku} failed: ${listed.status} ${JSON.stringify(listed.body)}`);
  if (quantity > 0) {
    const received = await crest.call('POST', `/v1/inventory/${sku}/receipts`, { admin: true, body: { quantity, receiptId: `seed-${sku}` } });
    if (received.status !== 200) throw new Error(`receiving ${sku} failed: ${received.status} ${JSON.stringify(received.body)}`);
  }
};
