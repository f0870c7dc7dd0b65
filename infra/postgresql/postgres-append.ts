import type { ClientBase } from 'pg';
import type { AppendResult, EventPrecondition, ExpectedRevision, StreamAppend } from '../../domain/kernel/event-store';
import { RequiredEventMissingError } from '../../domain/kernel/event-store';
import { categoryOf } from '../../domain/kernel/streams';
import { checkExpectedRevision } from '../shared/event-store-rules';
import { isConnectionError, unavailableOr } from './postgres-database';

/** One stream of a caller's append, its JSON made when the call was made: later changes to the objects do not count. */
export interface PreparedAppend {
  readonly streamId: string;
  readonly category: string;
  readonly expectedRevision: ExpectedRevision;
  readonly ids: readonly string[];
  readonly types: readonly string[];
  readonly data: readonly string[];
  readonly metadata: readonly string[];
}

/** One caller: its streams, which commit together, and the events they require. */
export interface PreparedCaller {
  readonly appends: readonly PreparedAppend[];
  readonly requires: readonly EventPrecondition[];
}

export type CallerOutcome = { readonly ok: true; readonly results: readonly AppendResult[] } | { readonly ok: false; readonly error: unknown };

export const prepareCaller = (appends: readonly StreamAppend[], requires: readonly EventPrecondition[]): PreparedCaller => ({
  appends: appends.map((append) => ({
    streamId: append.streamId,
    category: categoryOf(append.streamId),
    expectedRevision: append.expectedRevision,
    ids: append.events.map((e) => e.id),
    types: append.events.map((e) => e.type),
    data: append.events.map((e) => JSON.stringify(e.data) ?? 'null'),
    metadata: append.events.map((e) => JSON.stringify(e.metadata)),
  })),
  requires: requires.map((r) => ({ streamId: r.streamId, revision: r.revision, eventId: r.eventId })),
});

/** A caller's own failure (a check it made): its savepoint undoes it, and the rest of the group goes on. */
class CallerFailed extends Error {
  constructor(readonly error: unknown) {
    super('caller failed');
  }
}

/**
 * The body of one group commit, inside a transaction the caller of this function opened and will commit. Locks the
 * log head first, so positions follow commit order; then each caller in a savepoint of its own, in order; then moves
 * the head and notifies followers (delivered by PostgreSQL at commit, and only if it commits). Rejects only on a
 * failure of the whole transaction; a caller's failed check is its outcome.
 */
export const appendGroup = async (client: ClientBase, callers: readonly PreparedCaller[], channel: string): Promise<CallerOutcome[]> => {
  const head = await client.query<[string]>({ text: 'SELECT position FROM log_head FOR UPDATE', rowMode: 'array' });
  const start = Number(head.rows[0]![0]);
  let position = start;
  const outcomes: CallerOutcome[] = [];
  for (const caller of callers) {
    const before = position;
    await client.query('SAVEPOINT caller');
    try {
      const results: AppendResult[] = [];
      for (const required of caller.requires) await checkRequired(client, required);
      for (const append of caller.appends) {
        const result = await appendOne(client, append, position);
        position = Math.max(position, result.position);
        results.push(result);
      }
      await client.query('RELEASE SAVEPOINT caller');
      outcomes.push({ ok: true, results });
    } catch (error) {
      if (isConnectionError(error)) throw error;
      // its checks failed, or the server refused its rows (a NUL in a stream id, say): only this caller is undone
      await client.query('ROLLBACK TO SAVEPOINT caller');
      await client.query('RELEASE SAVEPOINT caller');
      position = before;
      outcomes.push({ ok: false, error: error instanceof CallerFailed ? error.error : unavailableOr(error, 'append') });
    }
  }
  if (position > start) {
    await client.query('WITH moved AS (UPDATE log_head SET position = $1 RETURNING position) SELECT pg_notify($2, position::text) FROM moved', [position, channel]);
  }
  return outcomes;
};

const checkRequired = async (client: ClientBase, required: EventPrecondition): Promise<void> => {
  const found = await client.query<[string]>({ text: 'SELECT event_id FROM events WHERE stream_id = $1 AND revision = $2', values: [required.streamId, required.revision], rowMode: 'array' });
  if (found.rows[0]?.[0] !== required.eventId) throw new CallerFailed(new RequiredEventMissingError(required));
};

/** One stream: checks its expected revision, then inserts its events after `position`, the log's head so far. */
const appendOne = async (client: ClientBase, append: PreparedAppend, position: number): Promise<AppendResult> => {
  // under the log_head lock this is the latest committed head (READ COMMITTED: each statement takes a new snapshot)
  const head = await client.query<[number, string]>({
    text: 'SELECT revision, position FROM events WHERE stream_id = $1 ORDER BY revision DESC LIMIT 1',
    values: [append.streamId],
    rowMode: 'array',
  });
  const current = head.rows[0];
  try {
    checkExpectedRevision(append.streamId, append.expectedRevision, current?.[0]);
  } catch (error) {
    throw new CallerFailed(error);
  }
  const revision = current?.[0] ?? -1;
  if (append.ids.length === 0) return { nextExpectedRevision: revision, position: current ? Number(current[1]) : 0 };
  await client.query(
    `INSERT INTO events (position, stream_id, revision, category, event_id, type, data, metadata)
     SELECT $1::bigint + n, $2, $3::integer + n, $4, id, type, data, metadata
     FROM unnest($5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS e (id, type, data, metadata, n)`,
    [position, append.streamId, revision, append.category, append.ids, append.types, append.data, append.metadata],
  );
  return { nextExpectedRevision: revision + append.ids.length, position: position + append.ids.length };
};
