'use strict';
// The SQLite event store's write connection, on a thread of its own: commits and their fsyncs run here, so the event
// loop decides the next batch meanwhile. Plain JavaScript, so the thread starts without a TypeScript loader.
const { parentPort, receiveMessageOnPort, workerData } = require('node:worker_threads');
const Database = require('better-sqlite3');

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous}`);
db.pragma(`busy_timeout = ${workerData.busyTimeoutMs}`);
// the write connection walks the indexes of every append: keep them in memory (64 MiB, not the 2 MiB default)
db.pragma('cache_size = -65536');

// a stream's head from the (stream_id, revision) index, which also holds the position (the rowid): no table of heads
// to keep, which halved the random B-tree writes per new stream and stopped commits slowing down as the file grows
const head = db.prepare('SELECT revision, position FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1');
const insert = db.prepare('INSERT INTO events (stream_id, revision, category, event_id, type, data, metadata, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');

const eventAt = db.prepare('SELECT event_id FROM events WHERE stream_id = ? AND revision = ?').pluck();

class Missing extends Error {
  constructor(requirement) {
    super('required event missing');
    this.missing = requirement;
  }
}

class Conflict extends Error {
  constructor(streamId, expected, actual) {
    super('wrong expected revision');
    this.conflict = { streamId, expected, actual };
  }
}

// the same rules as infra/shared/event-store-rules.ts
const check = (streamId, expected, current) => {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === undefined) ||
    (expected === 'stream_exists' && current !== undefined) ||
    (typeof expected === 'number' && expected === current);
  if (!ok) throw new Conflict(streamId, expected, current === undefined ? 'no_stream' : current);
};

/** One stream: [streamId, category, expected, events: [id, type, data, metadata][]] → [nextExpectedRevision, lastPosition]. */
const appendOne = (append, created) => {
  const [streamId, category, expected, events] = append;
  const current = head.get(streamId);
  check(streamId, expected, current === undefined ? undefined : current.revision);
  if (events.length === 0) return [current ? current.revision : -1, current ? current.position : 0];
  let revision = current ? current.revision : -1;
  let position = 0;
  for (const [id, type, data, metadata] of events) {
    revision++;
    position = Number(insert.run(streamId, revision, category, id, type, data, metadata, created).lastInsertRowid);
  }
  return [revision, position];
};

// a savepoint per caller: its streams commit together, and a failed check undoes only them
const caller = db.transaction((appends, requires, created) => {
  for (const requirement of requires) {
    const [streamId, revision, eventId] = requirement;
    if (eventAt.get(streamId, revision) !== eventId) throw new Missing(requirement);
  }
  return appends.map((a) => appendOne(a, created));
});
const pause = workerData.faultCommitPauseMs > 0 ? new Int32Array(new SharedArrayBuffer(4)) : undefined;
const group = db.transaction((callers, created) => {
  const results = callers.map(([appends, requires]) => {
    try {
      return { ok: true, streams: caller(appends, requires, created) };
    } catch (error) {
      if (error instanceof Conflict) return { ok: false, conflict: error.conflict };
      if (error instanceof Missing) return { ok: false, missing: error.missing };
      throw error;
    }
  });
  // fault tests only: every row is written, nothing is committed yet
  if (pause) Atomics.wait(pause, 0, 0, workerData.faultCommitPauseMs);
  return results;
});

const statements = new Map();
const run = (sql, params) => {
  let statement = statements.get(sql);
  if (!statement) statements.set(sql, (statement = db.prepare(sql)));
  statement.run(...params);
};

const failure = (error) => ({ message: error.message, code: error.code });

/**
 * Appends that queued up while the last commit ran are committed together: one transaction, one fsync, each
 * message's callers in savepoints of their own, each message answered in order.
 */
const commitAppends = (messages) => {
  const created = new Date().toISOString();
  let results;
  try {
    results = group.immediate(
      messages.flatMap((m) => m.callers),
      created,
    );
  } catch (error) {
    for (const m of messages) parentPort.postMessage({ id: m.id, ok: false, error: failure(error) });
    return;
  }
  let at = 0;
  for (const m of messages) {
    parentPort.postMessage({ id: m.id, ok: true, created, callers: results.slice(at, at + m.callers.length) });
    at += m.callers.length;
  }
};

const handleOther = (message) => {
  try {
    switch (message.kind) {
      case 'run':
        run(message.sql, message.params);
        parentPort.postMessage({ id: message.id, ok: true });
        return;
      case 'close':
        db.close();
        parentPort.postMessage({ id: message.id, ok: true });
        return;
      default:
        throw new Error(`unknown message ${message.kind}`);
    }
  } catch (error) {
    parentPort.postMessage({ id: message.id, ok: false, error: failure(error) });
  }
};

parentPort.on('message', (first) => {
  // take everything already queued behind this message, in order
  const queued = [first];
  for (let next = receiveMessageOnPort(parentPort); next; next = receiveMessageOnPort(parentPort)) queued.push(next.message);
  let appends = [];
  for (const message of queued) {
    if (message.kind === 'append') {
      appends.push(message);
      continue;
    }
    if (appends.length > 0) commitAppends(appends);
    appends = [];
    handleOther(message);
  }
  if (appends.length > 0) commitAppends(appends);
});
