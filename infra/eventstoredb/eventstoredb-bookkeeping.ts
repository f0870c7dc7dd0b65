import { BACKWARDS, END, jsonEvent, StreamNotFoundError, type EventStoreDBClient } from '@eventstore/db-client';
import { randomUUID } from 'node:crypto';
import type { CheckpointStore, Snapshot, SnapshotStore } from '../../commands/ports';

/** Reads the newest event of a one-value stream (kept short with $maxCount = 1). */
const readLatest = async <T>(client: EventStoreDBClient, stream: string): Promise<T | undefined> => {
  try {
    for await (const resolved of client.readStream(stream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
      return resolved.event?.data as T | undefined;
    }
  } catch (error) {
    if (error instanceof StreamNotFoundError) return undefined;
    throw error;
  }
  return undefined;
};

const writeLatest = async (client: EventStoreDBClient, stream: string, type: string, data: Record<string, unknown>, known: Set<string>): Promise<void> => {
  if (!known.has(stream)) {
    await client.setStreamMetadata(stream, { maxCount: 1 });
    known.add(stream);
  }
  await client.appendToStream(stream, jsonEvent({ id: randomUUID(), type, data: data as never }));
};

/** Snapshots in `snapshot-<stream>` streams that keep only their newest event. */
export class EventStoreDbSnapshotStore implements SnapshotStore {
  private readonly known = new Set<string>();
  constructor(private readonly client: EventStoreDBClient) {}

  async load(streamId: string): Promise<Snapshot | undefined> {
    return readLatest<Snapshot>(this.client, `snapshot-${streamId}`);
  }

  async save(snapshot: Snapshot): Promise<void> {
    const current = await this.load(snapshot.streamId);
    if (current && current.revision >= snapshot.revision) return;
    await writeLatest(this.client, `snapshot-${snapshot.streamId}`, 'Snapshot', { ...snapshot }, this.known);
  }
}

/** Checkpoints in `checkpoint-<name>` streams that keep only their newest event. */
export class EventStoreDbCheckpointStore implements CheckpointStore {
  private readonly known = new Set<string>();
  constructor(private readonly client: EventStoreDBClient) {}

  async load(name: string): Promise<number | undefined> {
    return (await readLatest<{ position: number }>(this.client, `checkpoint-${name}`))?.position;
  }

  async save(name: string, position: number): Promise<void> {
    await writeLatest(this.client, `checkpoint-${name}`, 'Checkpoint', { position }, this.known);
  }
}
