import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import type { EventStore } from '../../domain/kernel/event-store';
import { PostgresEventStore } from '../../infra/postgresql/postgres-event-store';
import { TestCluster, type ClusterOptions, type RoleArgs } from './cluster';
import { skipOrFail } from './servers';

const run = promisify(execFile);
const root = resolve(__dirname, '../..');
const hostsScript = resolve(root, 'infra/local/hosts.sh');
const ip = '/usr/sbin/ip';

/** The hosts of infra/local/hosts.sh, by name, and what listens on them. */
export const HOSTS = {
  db: '10.231.0.2',
  lb: '10.231.0.5',
  api1: '10.231.0.11',
  api2: '10.231.0.12',
  inv1: '10.231.0.21',
  inv2: '10.231.0.22',
  proj: '10.231.0.31',
  saga: '10.231.0.32',
} as const;
export type HostName = keyof typeof HOSTS;

export const BALANCER_URL = `http://${HOSTS.lb}:8080`;
const ROLE_PORT = 3000;

const servers = {
  redis: `redis://${HOSTS.db}:6379`,
  mongodb: `mongodb://${HOSTS.db}:27017`,
  kafka: `${HOSTS.db}:9092`,
  postgresql: `postgres://crest@${HOSTS.db}:5432`,
};

/**
 * In a `before` hook: brings up the hosts (bridge, namespaces, the db host's servers, HAProxy) with
 * infra/local/hosts.sh. Skips (or, under CREST_REQUIRE_SERVERS=1, fails) when this machine cannot: not root, no
 * iproute2, no HAProxy.
 */
export const requireHosts = async (context: Mocha.Context): Promise<void> => {
  if (process.getuid?.() !== 0) return skipOrFail(context, 'hosts of their own need root (network namespaces); CI runs as root');
  try {
    await run('bash', [hostsScript, 'up'], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    skipOrFail(context, `infra/local/hosts.sh up failed: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-5).join(' | ')}`);
  }
};

/** Stops the db host's servers and HAProxy, and removes the namespaces and the bridge. */
export const releaseHosts = async (): Promise<void> => {
  if (process.getuid?.() !== 0) return;
  await run('bash', [hostsScript, 'down'], { timeout: 120_000 }).catch((error: Error) => console.log(`      infra/local/hosts.sh down failed: ${error.message}`));
};

/**
 * A Crest cluster whose roles each run on a host of their own (a network namespace, its own address), reaching
 * PostgreSQL, Kafka, Redis and FerretDB on the db host over the bridge. Role names are host names. No file is shared:
 * each role has a data directory of its own, and the event store is a PostgreSQL database of this cluster's own.
 */
export class HostsCluster extends TestCluster {
  private readonly roleDirs: string[] = [];

  constructor(options: ClusterOptions = {}) {
    super(options, servers);
  }

  get database(): string {
    return `crest_hosts_${this.id.replaceAll('-', '_')}`;
  }

  get postgresUrl(): string {
    return `${servers.postgresql}/${this.database}`;
  }

  /** Creates the cluster's event store database on the db host. */
  async createDatabase(): Promise<void> {
    await this.adminSql(`CREATE DATABASE ${this.database}`);
  }

  override env(): Record<string, string> {
    return { ...super.env(), CREST_EVENT_STORE: 'postgresql', CREST_POSTGRES_URL: this.postgresUrl };
  }

  protected override command(name: string, args: RoleArgs): { file: string; argv: string[]; env: Record<string, string> } {
    const host = name as HostName;
    if (!(host in HOSTS)) throw new Error(`no host named ${name} (hosts: ${Object.keys(HOSTS).join(', ')})`);
    const inner = super.command(name, args);
    const dataDir = mkdtempSync(join(tmpdir(), `crest-host-${name}-`));
    this.roleDirs.push(dataDir);
    return {
      file: ip,
      argv: ['netns', 'exec', `crest-${host}`, inner.file, ...inner.argv],
      env: { HOST: HOSTS[host], PORT: String(ROLE_PORT), CREST_DATA_DIR: dataDir, CREST_NODE_ID: name },
    };
  }

  protected override openStore(): EventStore {
    return new PostgresEventStore({ connectionString: this.postgresUrl });
  }

  /** Takes a host's link down, as if its cable were pulled. */
  async cut(host: HostName): Promise<void> {
    await run(ip, ['link', 'set', `cr-${host}`, 'down']);
  }

  /** Brings a host's link back. */
  async heal(host: HostName): Promise<void> {
    await run(ip, ['link', 'set', `cr-${host}`, 'up']);
  }

  override async dispose(): Promise<void> {
    // a host left cut off by a failed test would keep its role from stopping
    for (const host of Object.keys(HOSTS) as HostName[]) await this.heal(host).catch(() => undefined);
    await super.dispose();
    await this.adminSql(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => undefined);
    for (const dir of this.roleDirs) rmSync(dir, { recursive: true, force: true });
  }

  private async adminSql(sql: string): Promise<void> {
    const client = new Client({ connectionString: `${servers.postgresql}/crest`, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }
}
