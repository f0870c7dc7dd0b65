import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import type { EventStore } from '../../domain/kernel/event-store';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { serverUrls } from './servers';
import { waitFor } from './wait-for';

const root = resolve(__dirname, '../..');
/** What bin/crest execs: node with tsx's require hook on the CLI entry point (so no PATH lookup is needed). */
const crestCommand = [resolve(root, 'node_modules/tsx/dist/cjs/index.cjs'), resolve(root, 'infra/cli/crest.ts')];

export const CLUSTER_ADMIN_TOKEN = 'cluster-e2e-admin-token-0001';

export type RoleArgs = readonly string[];

/** One running role of the cluster (`crest serve`, `crest work <role>`), as a child process. */
export interface RoleProcess {
  readonly name: string;
  readonly args: RoleArgs;
  readonly child: ChildProcessWithoutNullStreams;
  /** Where its HTTP listens (the API, or health and metrics for a worker); empty for the relay, which has none. */
  url: string;
  output: string;
  /** Resolves when the process has exited, however it ended. */
  readonly exited: Promise<void>;
}

export interface HttpResult {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
}

export interface ClusterOptions {
  /** Settings on top of the cluster defaults (every role gets the same config). */
  readonly env?: Record<string, string>;
  /** Names the Kafka topic, consumer group, Mongo database and Redis prefix; random by default. */
  readonly id?: string;
}

/** Where a cluster finds its servers. */
export interface ClusterServers {
  readonly redis: string;
  readonly mongodb: string;
  readonly kafka: string;
}

/**
 * A Crest cluster on this machine: every role is a child process started from one shared config, over one SQLite
 * event store file, with a Kafka topic, a consumer group, a Mongo database and a Redis prefix of its own.
 */
export class TestCluster {
  readonly id: string;
  readonly dataDir: string;
  readonly procs: RoleProcess[] = [];
  private storeInstance: EventStore | undefined;

  constructor(
    private readonly options: ClusterOptions = {},
    protected readonly servers: ClusterServers = serverUrls,
  ) {
    this.id = options.id ?? randomUUID().slice(0, 8);
    this.dataDir = mkdtempSync(join(tmpdir(), 'crest-cluster-'));
  }

  get mongoDatabase(): string {
    return `crest_cluster_${this.id}`;
  }

  get redisPrefix(): string {
    return `cl-${this.id}`;
  }

  get inventoryTopic(): string {
    return `crest.inventory.commands.e2e-${this.id}`;
  }

  get relayTopic(): string {
    return `crest.events.e2e-${this.id}`;
  }

  env(): Record<string, string> {
    return {
      PORT: '0',
      CREST_DATA_DIR: this.dataDir,
      CREST_ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN,
      CREST_INVENTORY: 'kafka',
      CREST_INVENTORY_TOPIC: this.inventoryTopic,
      CREST_INVENTORY_PARTITIONS: '6',
      CREST_INVENTORY_SESSION_TIMEOUT_MS: '6000',
      CREST_INVENTORY_TIMEOUT_MS: '60000',
      CREST_READ_MODELS: 'mongodb',
      MONGODB_URL: this.servers.mongodb,
      MONGODB_DATABASE: this.mongoDatabase,
      CREST_CACHE: 'redis',
      REDIS_URL: this.servers.redis,
      CREST_REDIS_PREFIX: this.redisPrefix,
      KAFKA_BROKERS: this.servers.kafka,
      CREST_RELAY_TOPIC: this.relayTopic,
      CREST_RATE_LIMIT_CUSTOMER_PER_SEC: '0',
      CREST_MAX_EVENT_LOOP_DELAY_MS: '0',
      CREST_LOG_LEVEL: 'warn',
      ...this.options.env,
    };
  }

  /** The event store the roles share, opened by the test to check the truth. */
  get store(): EventStore {
    this.storeInstance ??= this.openStore();
    return this.storeInstance;
  }

  /** The shared SQLite file (roles on this machine). */
  protected openStore(): EventStore {
    return new SqliteEventStore({ file: join(this.dataDir, 'crest.sqlite'), synchronous: 'FULL' });
  }

  /** The command that starts role `name` with `args`, and settings of its own on top of env(). */
  protected command(name: string, args: RoleArgs): { file: string; argv: string[]; env: Record<string, string> } {
    return { file: process.execPath, argv: ['--require', ...crestCommand, ...args], env: {} };
  }

  /** Starts a role and waits until it listens and is ready (the relay, which listens nowhere, until it says it runs). */
  async launch(name: string, args: RoleArgs, extraEnv: Record<string, string> = {}): Promise<RoleProcess> {
    const command = this.command(name, args);
    const child = spawn(command.file, command.argv, { cwd: root, env: { ...this.env(), ...command.env, ...extraEnv } });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const proc: RoleProcess = { name, args, child, url: '', output: '', exited };
    child.stdout.on('data', (d: Buffer) => (proc.output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (proc.output += d.toString()));
    this.procs.push(proc);
    const isRelay = args[0] === 'work' && args[1] === 'relay';
    const started = () => (isRelay ? /Crest relay is running/.test(proc.output) : /on (http:\/\/[^\s)]+)/.test(proc.output));
    await waitFor(() => started() || child.exitCode !== null, 60_000, `${name} to start`);
    if (!started()) throw new Error(`${name} did not start:\n${proc.output}`);
    if (isRelay) return proc;
    proc.url = /on (http:\/\/[^\s)]+)/.exec(proc.output)![1]!;
    await waitFor(async () => (await this.status(proc.url, '/health/ready')) === 200, 60_000, `${name} to be ready`);
    return proc;
  }

  /** The live process with this name (the latest one, after a restart). */
  proc(name: string): RoleProcess {
    const found = [...this.procs].reverse().find((p) => p.name === name && p.child.exitCode === null && p.child.signalCode === null);
    if (!found) throw new Error(`no live role named ${name}`);
    return found;
  }

  /** Sends `signal` to a role and waits until the process is gone. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<RoleProcess> {
    const proc = this.proc(name);
    proc.child.kill(signal);
    await proc.exited;
    return proc;
  }

  /** Starts a role again with the arguments it had. */
  restart(killed: RoleProcess): Promise<RoleProcess> {
    return this.launch(killed.name, killed.args);
  }

  /** URLs of the live API nodes that listen (one being started again is not among them until it listens). */
  apis(): string[] {
    return this.procs.filter((p) => (p.args[0] === 'serve' || p.args[0] === 'start') && p.url !== '' && p.child.exitCode === null && p.child.signalCode === null).map((p) => p.url);
  }

  async call(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<HttpResult> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // metrics and other text bodies stay text
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  /** An admin call to the first live API node. */
  admin(method: string, path: string, body?: unknown): Promise<HttpResult> {
    return this.call(this.apis()[0]!, method, path, body, { authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}` });
  }

  /** The HTTP status of a GET, or 0 when nothing answers. */
  async status(url: string, path: string): Promise<number> {
    return fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) })
      .then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      })
      .catch(() => 0);
  }

  /** Lists each SKU (category `cluster`) and receives `stock` units of it. */
  async seed(skus: readonly string[], stock: number, category = 'cluster'): Promise<void> {
    for (const sku of skus) {
      const listed = await this.admin('PUT', `/v1/products/${sku}`, { name: sku, category, priceCents: 300 });
      if (listed.status !== 201 && listed.status !== 200) throw new Error(`listing ${sku}: ${listed.status} ${JSON.stringify(listed.body)}`);
      const received = await this.admin('POST', `/v1/inventory/${sku}/receipts`, { quantity: stock, receiptId: `seed-${sku}` });
      if (received.status !== 200) throw new Error(`receiving ${sku}: ${received.status} ${JSON.stringify(received.body)}`);
    }
  }

  /** The last lines each role wrote (for a failed test's report). */
  tails(lines = 15): string {
    return this.procs.map((p) => `---- ${p.name} (${p.child.exitCode ?? p.child.signalCode ?? 'running'})\n${p.output.split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  /** Stops every role (SIGTERM), then drops the Mongo database, the Redis keys, the Kafka topics and the data directory. */
  async dispose(): Promise<void> {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(
      this.procs.map((p) =>
        Promise.race([
          p.exited,
          new Promise<void>((done) =>
            setTimeout(() => {
              p.child.kill('SIGKILL');
              done();
            }, 20_000).unref(),
          ),
        ]),
      ),
    );
    await this.storeInstance?.close();
    const mongo = new MongoClient(this.servers.mongodb, { serverSelectionTimeoutMS: 5000 });
    await mongo
      .connect()
      .then(async () => {
        // and the generations a blue/green rebuild made beside it
        const { databases } = await mongo.db('admin').admin().listDatabases({ nameOnly: true });
        for (const { name } of databases) if (name === this.mongoDatabase || name.startsWith(`${this.mongoDatabase}_g`)) await mongo.db(name).dropDatabase();
      })
      .catch(() => undefined);
    await mongo.close().catch(() => undefined);
    await dropRedisPrefix(this.redisPrefix, this.servers.redis);
    await dropKafkaTopics([this.inventoryTopic, this.relayTopic], this.servers.kafka);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Deletes every Redis key under `prefix:` (best effort). */
export const dropRedisPrefix = async (prefix: string, url = serverUrls.redis): Promise<void> => {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    // best effort: keys left behind are namespaced by a random id
  } finally {
    redis.disconnect();
  }
};

/** Deletes Kafka topics that exist among `topics` (best effort). */
export const dropKafkaTopics = async (topics: readonly string[], brokers = serverUrls.kafka): Promise<void> => {
  const admin = new Kafka({ clientId: 'crest-test-cleanup', brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 1 } }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const drop = topics.filter((t) => existing.has(t));
    if (drop.length > 0) await admin.deleteTopics({ topics: drop, timeout: 10_000 });
  } catch {
    // best effort: topics left behind are namespaced by a random id
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};
