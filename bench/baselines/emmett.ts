/**
 * Peer baseline: Emmett's CommandHandler over @event-driven-io/emmett-sqlite (0.38.5, pinned with emmett itself),
 * deciding with the same inventory decider. Emmett re-reads the whole stream for every command.
 *
 * Variant: commands on one stream go through an in-process lock (one at a time). Without it 0.38.5 fails under
 * concurrent commands (it closes its shared connection after each operation: "Database is closed" or "database is
 * locked"; a rejected stale append can wedge the stream), so `probeUnlocked` runs the unlocked variant once, briefly,
 * on its own file, to show what happens; the figure is the locked variant, which is what a careful user would run.
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR } from '../result';
import { inventoryDecider, type InventoryCommand, type InventoryEvent, type InventoryState } from '../../domain/inventory/inventory';

type EmmettModules = {
  emmett: typeof import('@event-driven-io/emmett');
  sqlite: typeof import('@event-driven-io/emmett-sqlite');
};

/** Loads Emmett, or explains why it cannot run here. */
export const loadEmmett = async (): Promise<EmmettModules | { unavailable: string }> => {
  try {
    const emmett = await import('@event-driven-io/emmett');
    const sqlite = await import('@event-driven-io/emmett-sqlite');
    return { emmett, sqlite };
  } catch (error) {
    return { unavailable: `Emmett could not be loaded: ${error instanceof Error ? error.message : String(error)}` };
  }
};

export const emmettVersion = (): string => {
  try {
    const own = (name: string) => (JSON.parse(readFileSync(join(REPO_DIR, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    return `@event-driven-io/emmett ${own('@event-driven-io/emmett')}, @event-driven-io/emmett-sqlite ${own('@event-driven-io/emmett-sqlite')}, sqlite3 ${own('sqlite3')}`;
  } catch {
    return 'versions unknown';
  }
};

class Refused extends Error {}

/** Serialises async work per key, in arrival order. */
const keyedLock = () => {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, work: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(work, work);
    tails.set(
      key,
      run.catch(() => undefined),
    );
    return run;
  };
};

const handlerFor = (m: EmmettModules) =>
  m.emmett.CommandHandler<InventoryState, InventoryEvent>({ evolve: (state, event) => inventoryDecider.evolve(state, event), initialState: inventoryDecider.initialState });

const decideFor = (command: InventoryCommand) => (state: InventoryState) => {
  const decision = inventoryDecider.decide(command, state);
  if (!decision.ok) throw new Refused(decision.rejection.message);
  return [...decision.events];
};

export interface EmmettRun {
  readonly commandsPerSec: number;
  readonly accepted: number;
  readonly failed: number;
  /** Commands neither accepted nor failed when the time limit (plus grace) ran out: hung. */
  readonly hung: number;
  readonly seconds: number;
  readonly errors: readonly string[];
}

const drive = async (
  m: EmmettModules,
  file: string,
  commands: number,
  inFlight: number,
  maxSeconds: number,
  locked: boolean,
): Promise<EmmettRun> => {
  const store = m.sqlite.getSQLiteEventStore({ fileName: file });
  const handle = handlerFor(m);
  const lock = keyedLock();
  const stream = 'inventory-EMMETT';
  const exec = (command: InventoryCommand) => (locked ? lock(stream, () => handle(store, stream, decideFor(command))) : handle(store, stream, decideFor(command)));
  await exec({ type: 'ReceiveStock', sku: 'EMMETT', receiptId: 'r', quantity: commands });
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const errors = new Map<string, number>();
  let next = 0;
  let accepted = 0;
  let failed = 0;
  let startedCommands = 0;
  const started = performance.now();
  const stopAt = started + maxSeconds * 1000;
  const work = Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < commands && performance.now() < stopAt) {
        const i = next++;
        startedCommands++;
        try {
          await exec({ type: 'ReserveStock', sku: 'EMMETT', orderId: `o-${i}`, quantity: 1, expiresAt });
          accepted++;
        } catch (error) {
          failed++;
          const message = (error instanceof Error ? error.message : String(error)).slice(0, 80);
          errors.set(message, (errors.get(message) ?? 0) + 1);
        }
      }
    }),
  );
  // a wedged store can leave commands hanging: stop waiting at the time limit (plus a grace period)
  await Promise.race([work, new Promise((resolve) => setTimeout(resolve, maxSeconds * 1000 + 5000).unref())]);
  const seconds = (performance.now() - started) / 1000;
  const top = [...errors.entries()].sort(([, a], [, b]) => b - a).slice(0, 3);
  return { commandsPerSec: accepted / seconds, accepted, failed, hung: startedCommands - accepted - failed, seconds, errors: top.map(([message, n]) => `${n}x ${message}`) };
};

/** The figure: commands on one fresh stream, serialised by an in-process lock. */
export const emmettLocked = (m: EmmettModules, dir: string, commands: number, inFlight: number, maxSeconds: number): Promise<EmmettRun> =>
  drive(m, join(dir, 'emmett-locked.sqlite'), commands, inFlight, maxSeconds, true);

/** The same without the lock, once, to show why the lock is there. */
export const emmettUnlockedProbe = (m: EmmettModules, dir: string, commands: number, inFlight: number, maxSeconds: number): Promise<EmmettRun> =>
  drive(m, join(dir, 'emmett-unlocked.sqlite'), commands, inFlight, maxSeconds, false);

/** node-sqlite3's default `synchronous` (Emmett opens a new connection per operation and sets only journal_mode=WAL). */
export const emmettSynchronous = async (file: string): Promise<string> => {
  const sqlite3 = (await import('sqlite3')).default;
  return new Promise((resolve) => {
    const db = new sqlite3.Database(file);
    db.get('PRAGMA synchronous', (error: Error | null, row: { synchronous: number } | undefined) => {
      db.close();
      resolve(error ? 'unknown' : (['OFF', 'NORMAL', 'FULL', 'EXTRA'][row?.synchronous ?? -1] ?? String(row?.synchronous)));
    });
  });
};

/** Runs `emmettUnlockedProbe` in a child process (stderr silenced: node-sqlite3 prints its errors there). */
export const emmettUnlockedProbeIsolated = (dir: string, commands: number, inFlight: number, seconds: number): Promise<{ run: EmmettRun; synchronous: string }> =>
  new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'emmett-probe.ts'), [dir, String(commands), String(inFlight), String(seconds)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    let answer: { run: EmmettRun; synchronous: string } | undefined;
    const limit = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('message', (m: { run: EmmettRun; synchronous: string }) => (answer = m));
    child.on('exit', (code) => {
      clearTimeout(limit);
      if (answer) resolve(answer);
      else reject(new Error(`the Emmett probe process exited with ${code} without an answer`));
    });
  });
