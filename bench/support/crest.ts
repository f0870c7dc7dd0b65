/** Crest booted in the harness process for the HTTP scenarios, as test/support/crest-harness.ts does for tests. */
import pino from 'pino';
import { startAllInOne, type RunningCrest } from '../../infra/composition/root';
import { parseConfig, type CrestConfig } from '../../infra/config/config';

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789';

/** Rate limits and load shedding off (they would cap what is measured); logs silent. */
export const BENCH_OVERRIDES: Partial<Record<keyof CrestConfig, string>> = {
  PORT: '0',
  CREST_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
  CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '0',
  CREST_MAX_EVENT_LOOP_DELAY_MS: '0',
  CREST_LOG_LEVEL: 'silent',
};

export const startBenchCrest = async (dataDir: string, overrides: Partial<Record<keyof CrestConfig, string>> = {}): Promise<{ crest: RunningCrest; config: CrestConfig }> => {
  const config = parseConfig({}, { ...BENCH_OVERRIDES, CREST_DATA_DIR: dataDir, ...overrides });
  const crest = await startAllInOne(config, { logger: pino({ level: 'silent' }) });
  return { crest, config };
};

/** A JSON call with fetch (setup and checks only; load goes through the generator). */
export const call = async <T = unknown>(url: string, method: string, path: string, options: { body?: unknown; admin?: boolean; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T }> => {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.admin) headers.authorization = `Bearer ${BENCH_ADMIN_TOKEN}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}${path}`, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: response.status, body: body as T };
};

/** Describes the Crest settings that matter for a figure. */
export const describeConfig = (config: CrestConfig): string =>
  `store=${config.CREST_EVENT_STORE} synchronous=${config.CREST_SQLITE_SYNCHRONOUS}, writer max batch ${config.CREST_WRITER_MAX_BATCH}, ` +
  `projection batch ${config.CREST_PROJECTION_BATCH}, customer rate limit ${config.CREST_RATE_LIMIT_CUSTOMER_PER_SEC || 'off'}, ` +
  `event-loop shedding ${config.CREST_MAX_EVENT_LOOP_DELAY_MS || 'off'}, order wait ${config.CREST_ORDER_WAIT_MS} ms, log ${config.CREST_LOG_LEVEL}`;
