/**
 * Runs Emmett's unlocked variant once in its own process (forked by emmett.ts): under concurrent commands
 * 0.38.5 can leave commands hanging for good, and they must not linger in the process that measures.
 */
import { loadEmmett, emmettSynchronous, emmettUnlockedProbe } from './emmett';

const main = async (dir: string, commands: number, inFlight: number, seconds: number): Promise<void> => {
  const m = await loadEmmett();
  if ('unavailable' in m) throw new Error(m.unavailable);
  const run = await emmettUnlockedProbe(m, dir, commands, inFlight, seconds);
  const synchronous = await emmettSynchronous(`${dir}/emmett-unlocked.sqlite`);
  process.send?.({ run, synchronous });
};

const [dir = '', commands = '200', inFlight = '64', seconds = '10'] = process.argv.slice(2);
main(dir, Number(commands), Number(inFlight), Number(seconds)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`emmett probe failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
