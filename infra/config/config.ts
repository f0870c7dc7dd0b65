import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);

/** Every setting Crest reads, with its default. This module is the only place that looks at the environment. */
export const ConfigSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  CREST_DATA_DIR: z.string().min(1).default('./data'),
  CREST_EVENT_STORE: z.enum(['sqlite', 'memory', 'eventstoredb', 'postgresql']).default('sqlite'),
  ESDB_CONNECTION_STRING: z.string().regex(/^(esdb|esdb\+discover):\/\//, 'must start with esdb:// or esdb+discover://').optional(),
  CREST_POSTGRES_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://').optional(),
  CREST_POSTGRES_POOL_SIZE: int(1, 1000).default(10),
  CREST_READ_MODELS: z.enum(['memory', 'sqlite', 'mongodb']).default('memory'),
  MONGODB_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').default('mongodb://127.0.0.1:27017'),
  MONGODB_DATABASE: z.string().regex(/^[A-Za-z0-9_-]{1,63}$/).default('crest'),
  CREST_CACHE: z.enum(['memory', 'redis']).default('memory'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
  CREST_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default('crest'),
  CREST_RELAY: z.enum(['off', 'kafka']).default('off'),
  CREST_RELAY_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('crest.events'),
  CREST_RELAY_BATCH: int(1, 10_000).default(500),
  CREST_INVENTORY: z.enum(['local', 'kafka']).default('local'),
  CREST_INVENTORY_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/).default('crest.inventory.commands'),
  CREST_INVENTORY_PARTITIONS: int(1, 1000).default(12),
  CREST_INVENTORY_TIMEOUT_MS: int(100, 600_000).default(10_000),
  // the broker must allow it: group.min.session.timeout.ms (6000 by default) at or below this
  CREST_INVENTORY_SESSION_TIMEOUT_MS: int(1000, 300_000).default(3000),
  CREST_NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
  KAFKA_BROKERS: z.string().regex(/^[^,\s]+(,[^,\s]+)*$/, 'a comma-separated list of host:port').default('127.0.0.1:9092'),
  CREST_SQLITE_SYNCHRONOUS: z.enum(['OFF', 'NORMAL', 'FULL', 'EXTRA']).default('FULL'),
  // fault tests only: the writer thread holds each append transaction open this long before it commits
  CREST_SQLITE_FAULT_COMMIT_PAUSE_MS: int(0, 60_000).default(0),
  CREST_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  CREST_ORDER_WAIT_MS: int(1, 60_000).default(2000),
  CREST_RESERVATION_TTL_MS: int(1000).default(900_000),
  CREST_RESERVATION_GRACE_MS: int(0).default(60_000),
  CREST_PAYMENT_LATENCY_MS: int(0, 600_000).default(20),
  // several secrets, comma-separated, while one is rotated: any of them verifies, the first one signs
  CREST_PAYMENT_WEBHOOK_SECRET: z
    .string()
    .transform((s) => s.split(',').map((p) => p.trim()))
    .refine((list) => list.every((p) => p.length >= 16), 'each secret (comma-separated) must be at least 16 characters')
    .optional(),
  CREST_CUSTOMER_AUTH: z.enum(['off', 'jwt']).default('off'),
  CREST_CUSTOMER_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (an HS256 key of 256 bits)').optional(),
  CREST_CUSTOMER_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  CREST_CUSTOMER_JWT_ISSUER: z.string().min(1).optional(),
  CREST_CUSTOMER_JWT_AUDIENCE: z.string().min(1).optional(),
  CREST_RATE_LIMIT_IP_PER_SEC: int(0).default(0),
  CREST_HTTP_REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  CREST_FOLLOWER_RETRY_MAX_MS: int(10, 600_000).default(5000),
  CREST_FOLLOWER_STALL_MS: int(0, 600_000).default(2000),
  CREST_PAYMENT_RETRIES: int(1, 20).default(6),
  CREST_PAYMENT_BACKOFF_MS: int(1, 60_000).default(50),
  CREST_SAGA_TICK_MS: int(10, 60_000).default(250),
  CREST_SNAPSHOT_EVERY: int(1).default(1000),
  CREST_WRITER_MAX_BATCH: int(1, 100_000).default(2000),
  CREST_WRITER_PIPELINE_DEPTH: int(1, 16).default(2),
  CREST_RATE_LIMIT_CUSTOMER_PER_SEC: int(0).default(20),
  CREST_RATE_LIMIT_GLOBAL_PER_SEC: int(0).default(0),
  CREST_MAX_EVENT_LOOP_DELAY_MS: int(0).default(1000),
  CREST_MIN_POSITION_WAIT_MS: int(0, 60_000).default(2000),
  CREST_PROJECTION_BATCH: int(1, 100_000).default(1000),
  CREST_PROJECTION_POISON_POLICY: z.enum(['stop', 'skip']).default('stop'),
  // circuit breakers (infra/breakers): a call slower than its timeout fails; an open breaker fails fast for RESET_MS
  CREST_BREAKER_READ_TIMEOUT_MS: int(10, 60_000).default(2000),
  CREST_BREAKER_PAYMENT_TIMEOUT_MS: int(10, 120_000).default(10_000),
  CREST_BREAKER_RESET_MS: int(100, 600_000).default(5000),
  CREST_CACHE_MAX_ENTRIES: int(1).default(50_000),
  CREST_CACHE_TTL_MS: int(1).default(30_000),
  CREST_BROWSE_CACHE_TTL_MS: int(1).default(1000),
  CREST_CACHE_MISS_TTL_MS: int(1).default(2000),
  // the live sale page at /dashboard: behind the admin token unless the operator makes it public
  CREST_DASHBOARD_PUBLIC: z.stringbool().default(false),
  // OpenTelemetry traces over OTLP/HTTP: off unless asked for
  CREST_TRACING: z.enum(['off', 'otlp']).default('off'),
  CREST_OTLP_TRACES_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).default('http://127.0.0.1:4318/v1/traces'),
  CREST_TRACE_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(1),
  CREST_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type CrestConfig = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const SECRETS: ReadonlySet<string> = new Set(['CREST_ADMIN_TOKEN', 'CREST_PAYMENT_WEBHOOK_SECRET', 'CREST_CUSTOMER_JWT_SECRET']);

/** A rejected value as an error message may show it: never a secret, never a password inside a URL. */
const shown = (key: string, value: string | undefined): string => {
  if (value === undefined) return '""';
  if (SECRETS.has(key)) return `(hidden, ${value.length} characters)`;
  return JSON.stringify(value.replace(/\/\/[^/@\s]*@/, '//***@'));
};

/** Parses settings from an environment-shaped record; empty strings count as unset. */
export const parseConfig = (env: Readonly<Record<string, string | undefined>>, overrides: Partial<Record<keyof CrestConfig, string>> = {}): CrestConfig => {
  const input: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = overrides[key as keyof CrestConfig] ?? env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = ConfigSchema.superRefine((c, ctx) => {
    if (c.CREST_EVENT_STORE === 'eventstoredb' && !c.ESDB_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: ['ESDB_CONNECTION_STRING'], message: 'is required when CREST_EVENT_STORE=eventstoredb' });
    }
    if (c.CREST_EVENT_STORE === 'postgresql' && !c.CREST_POSTGRES_URL) {
      ctx.addIssue({ code: 'custom', path: ['CREST_POSTGRES_URL'], message: 'is required when CREST_EVENT_STORE=postgresql' });
    }
    if (c.CREST_CUSTOMER_AUTH === 'jwt' && !c.CREST_CUSTOMER_JWT_SECRET === !c.CREST_CUSTOMER_JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['CREST_CUSTOMER_AUTH'], message: 'jwt needs exactly one of CREST_CUSTOMER_JWT_SECRET (HS256) or CREST_CUSTOMER_JWKS_URL (RS256/ES256)' });
    }
    if (c.CREST_READ_MODELS === 'sqlite' && c.CREST_EVENT_STORE === 'memory') {
      ctx.addIssue({ code: 'custom', path: ['CREST_READ_MODELS'], message: 'keeps read models across restarts, which an in-memory event store does not: use memory read models with it' });
    }
  }).safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}=${shown(String(i.path[0]), input[String(i.path[0])])}: ${i.message}`));
  }
  return parsed.data;
};

/** Reads the process environment once. */
export const loadConfig = (): CrestConfig => parseConfig(process.env);
