import type { CheckpointStore } from '../../commands/ports';

export class MemoryCheckpointStore implements CheckpointStore {
  private readonly positions = new Map<string, number>();

  async load(name: string): Promise<number | undefined> {
    return this.positions.get(name);
  }

  async save(name: string, position: number): Promise<void> {
    if (position > (this.positions.get(name) ?? -1)) this.positions.set(name, position);
  }
}
