import { firstGeneration, type GenerationPointer, type ReadModelGeneration, type ReadModelGenerations } from '../../projections/ports';
import { MemoryReadModels } from './memory-read-models';

/** Generations in process memory: a rebuild lives beside the live models until the switch, and a restart forgets both. */
export class MemoryReadModelGenerations implements ReadModelGenerations<MemoryReadModels> {
  private readonly generations = new Map<string, MemoryReadModels>();
  private current: GenerationPointer = { active: firstGeneration, building: undefined };

  readonly keepsRetired = false;

  async pointer(): Promise<GenerationPointer> {
    return this.current;
  }

  async open(name: string): Promise<ReadModelGeneration<MemoryReadModels>> {
    let models = this.generations.get(name);
    if (!models) {
      models = new MemoryReadModels();
      this.generations.set(name, models);
    }
    return { name, models, close: async () => undefined };
  }

  async markBuilding(name: string): Promise<void> {
    this.current = { ...this.current, building: name };
  }

  async activate(name: string): Promise<void> {
    this.current = { active: name, building: undefined };
    // a retired generation is only memory held: let it go
    for (const other of [...this.generations.keys()]) if (other !== name) this.generations.delete(other);
  }

  describe(name: string): string {
    return `memory (generation ${name})`;
  }
}
