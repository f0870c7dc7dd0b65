/**
 * Seeded event logs for the rebuild and recovery scenarios, cached under the OS temp directory (never in the repo)
 * and reused across runs. A cache entry is keyed by size and by a hash of bench/seed-log.ts, and is re-seeded when
 * it is older than 20 hours: the seeded reservations expire 24 hours after seeding, and a Crest started over an
 * older log would spend its start expiring them.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../infra/sqlite/sqlite-event-store';
import { seedLog } from '../seed-log';

export const SEEDED_LOGS_DIR = join(tmpdir(), 'crest-bench-logs');
const MAX_AGE_MS = 20 * 3600_000;

interface Manifest {
  readonly events: number;
  readonly skus: number;
  readonly head: number;
  readonly seededAt: string;
  readonly seedHash: string;
  readonly seedSeconds: number;
}

export interface SeededLog extends Manifest {
  readonly dir: string;
  readonly file: string;
  readonly bytes: number;
  readonly reused: boolean;
}

const seedHash = (): string => createHash('sha256').update(readFileSync(join(__dirname, '..', 'seed-log.ts'))).digest('hex').slice(0, 10);

/** The log's current head position (opens the file; writes nothing but the schema check). */
export const headOf = async (file: string): Promise<number> => {
  const store = new SqliteEventStore({ file, synchronous: 'FULL' });
  try {
    return (await store.headPosition()) ?? 0;
  } finally {
    await store.close();
  }
};

export const seededLog = async (events: number, skus: number, log: (line: string) => void): Promise<SeededLog> => {
  const hash = seedHash();
  const prefix = `${events}-${skus}-`;
  const dir = join(SEEDED_LOGS_DIR, `${prefix}${hash}`);
  const file = join(dir, 'crest.sqlite');
  const manifestFile = join(dir, 'manifest.json');
  if (existsSync(manifestFile) && existsSync(file)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    const age = Date.now() - Date.parse(manifest.seededAt);
    const head = await headOf(file);
    // a Crest start over the log may append its own housekeeping (expiries, pruned confirmations): a longer log is fine
    if (age < MAX_AGE_MS && head >= manifest.head) {
      log(`  reusing the seeded log ${dir} (${manifest.head.toLocaleString('en')} events, seeded ${(age / 3600_000).toFixed(1)} h ago)`);
      return { ...manifest, dir, file, bytes: statSync(file).size, reused: true };
    }
    log(`  re-seeding ${dir}: ${age >= MAX_AGE_MS ? 'older than 20 h' : `head went back from ${manifest.head} to ${head}`}`);
  }
  // other sizes are kept; older seeds of this size are dropped
  if (existsSync(SEEDED_LOGS_DIR)) {
    for (const entry of readdirSync(SEEDED_LOGS_DIR)) if (entry.startsWith(prefix)) rmSync(join(SEEDED_LOGS_DIR, entry), { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  log(`  seeding ${events.toLocaleString('en')} events over ${skus} SKUs into ${dir} (synchronous=OFF; progress below)`);
  const started = performance.now();
  const written = await seedLog(dir, events, skus, true);
  const seedSeconds = (performance.now() - started) / 1000;
  const head = await headOf(file);
  const manifest: Manifest = { events: written, skus, head, seededAt: new Date().toISOString(), seedHash: hash, seedSeconds };
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 1));
  log(`  seeded ${written.toLocaleString('en')} events in ${seedSeconds.toFixed(1)} s`);
  return { ...manifest, dir, file, bytes: statSync(file).size, reused: false };
};

export const describeLog = (l: SeededLog): string =>
  `${l.head.toLocaleString('en')} events over ${l.skus} SKUs (bench/seed-log.ts ${l.seedHash}: products, stock, orders 2 in 4 paid, 1 cancelled, 1 expired, the newest 2,000 awaiting payment), ` +
  `${(l.bytes / 2 ** 20).toFixed(0)} MiB SQLite file, ${l.reused ? 'reused from' : 'seeded into'} ${l.dir}`;
