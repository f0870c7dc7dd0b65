import { parseArgs } from 'node:util';
import type { ReadModelsWire } from '../../projections/http/rebuild-routes';
import { UsageError, type CliIo } from './events';

/** `crest projections rebuild` as parsed from its flags. */
export interface RebuildArgs {
  readonly action: 'rebuild' | 'status' | 'cancel';
  readonly switchWhenCaughtUp: boolean;
  readonly url: string | undefined;
  /** Return once the rebuild has started, instead of following it. */
  readonly detach: boolean;
}

type ReadModelsView = ReadModelsWire;

export const parseRebuildArgs = (args: readonly string[]): RebuildArgs => {
  let parsed: { values: { switch?: boolean; status?: boolean; cancel?: boolean; url?: string; detach?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { switch: { type: 'boolean' }, status: { type: 'boolean' }, cancel: { type: 'boolean' }, url: { type: 'string' }, detach: { type: 'boolean' } },
    }) as typeof parsed;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.positionals[0] !== 'rebuild' || parsed.positionals.length !== 1) throw new UsageError(`crest projections needs rebuild, got "${parsed.positionals.join(' ')}"`);
  const { values } = parsed;
  if (values.status && values.cancel) throw new UsageError('--status and --cancel cannot go together');
  if (values.url !== undefined && !/^https?:\/\/[^\s/]+/.test(values.url)) throw new UsageError(`--url must be an http(s) URL such as http://127.0.0.1:3000, got "${values.url}"`);
  return {
    action: values.status ? 'status' : values.cancel ? 'cancel' : 'rebuild',
    switchWhenCaughtUp: values.switch ?? false,
    url: values.url,
    detach: values.detach ?? false,
  };
};

export interface RebuildClient {
  /** The process that projects the read models: `crest start`, or `crest work projections` in a cluster. */
  readonly url: string;
  readonly adminToken: string;
  readonly pollMs?: number;
  /** Resolves when the operator asks to stop (Ctrl-C): the rebuild is then cancelled, and can be resumed. */
  readonly interrupted?: Promise<void>;
}

const summary = (view: ReadModelsView): string => {
  const live = `readers use generation ${view.generation} (${view.target}) at position ${view.position}`;
  const r = view.rebuild;
  if (!r) return `${live}; no rebuild`;
  const eta = r.etaSeconds === null ? '' : `, about ${r.etaSeconds} s left`;
  switch (r.state) {
    case 'building':
      return `${live}; rebuilding generation ${r.generation}: ${r.position} of ${r.head} (${Math.floor((r.position / Math.max(r.head, 1)) * 100)}%), ${r.eventsPerSecond} events/s${eta}`;
    case 'caught_up':
      return `${live}; generation ${r.generation} has caught up at ${r.position}: switch with crest projections rebuild --switch`;
    case 'switched':
      return `${live}; switched from generation ${r.replacing}${r.replacingKept ? `, which is kept (${r.replacingTarget}) until you drop it` : ''}`;
    case 'cancelled':
      return `${live}; the rebuild of generation ${r.generation} was cancelled at ${r.position}: crest projections rebuild resumes it`;
    case 'failed':
      return `${live}; the rebuild of generation ${r.generation} stopped at ${r.position}: ${r.error ?? 'unknown error'}`;
  }
};

/**
 * Starts (or resumes) a rebuild in the running process and follows it, printing progress to stderr, until it has caught
 * up (or switched, with `--switch`). Ctrl-C cancels it; running the command again resumes. Exit code 0 when done, 1
 * when the rebuild failed or was cancelled, 2 for a bad invocation or an unreachable server.
 */
export const runRebuild = async (args: RebuildArgs, client: RebuildClient, io: CliIo): Promise<number> => {
  const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: object): Promise<ReadModelsView> => {
    let response: Response;
    try {
      response = await fetch(`${client.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${client.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new UsageError(`no Crest answers at ${client.url} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}); start it, or pass --url`);
    }
    const text = await response.text();
    const parsed = (text ? JSON.parse(text) : {}) as ReadModelsView & { detail?: string; code?: string };
    if (response.status === 404 && parsed.code === 'not_found') throw new UsageError(`${client.url} does not build read models (an API node?): point --url at crest start or crest work projections`);
    if (!response.ok) throw new UsageError(`${method} ${path} answered ${response.status} ${parsed.code ?? ''}: ${parsed.detail ?? text}`);
    return parsed;
  };
  if (args.action === 'status') {
    io.stdout.write(`${summary(await call('GET', '/v1/admin/read-models'))}\n`);
    return 0;
  }
  if (args.action === 'cancel') {
    io.stdout.write(`${summary(await call('DELETE', '/v1/admin/read-models/rebuild'))}\n`);
    return 0;
  }
  let view = await call('POST', '/v1/admin/read-models/rebuild', { switch: args.switchWhenCaughtUp });
  io.stderr.write(`${summary(view)}\n`);
  if (args.detach) return 0;
  let interrupted = false;
  void client.interrupted?.then(() => {
    interrupted = true;
  });
  let printedAt = Date.now();
  for (;;) {
    const rebuild = view.rebuild!;
    if (rebuild.state === 'switched' || (rebuild.state === 'caught_up' && !args.switchWhenCaughtUp)) {
      if (io.stderr.isTTY) io.stderr.write('\n');
      io.stdout.write(`${summary(view)}\n`);
      return 0;
    }
    if (rebuild.state === 'failed' || rebuild.state === 'cancelled') {
      io.stdout.write(`${summary(view)}\n`);
      return 1;
    }
    if (interrupted) {
      view = await call('DELETE', '/v1/admin/read-models/rebuild');
      io.stdout.write(`\n${summary(view)}\n`);
      return 1;
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, client.pollMs ?? 500)), client.interrupted]);
    view = await call('GET', '/v1/admin/read-models');
    if (io.stderr.isTTY) io.stderr.write(`\r${summary(view)}\u001b[K`);
    else if (Date.now() - printedAt >= 5000) {
      printedAt = Date.now();
      io.stderr.write(`${summary(view)}\n`);
    }
  }
};
