import type { Snapshot, SnapshotStore } from '../../commands/ports';

export class MemorySnapshotStore implements SnapshotStore {
  private readonly snapshots = new Map<string, Snapshot>();

  async load(streamId: string): Promise<Snapshot | undefined> {
    return this.snapshots.get(streamId);
  }

  async save(snapshot: Snapshot): Promise<void> {
    const current = this.snapshots.get(snapshot.streamId);
    if (!current || current.revision < snapshot.revision) this.snapshots.set(snapshot.streamId, structuredClone(snapshot));
  }
}
