import type { Db } from 'mongodb';
import { firstGeneration, type GenerationPointer, type ReadModelGeneration, type ReadModelGenerations } from '../../projections/ports';
import { MongoReadModels, type MongoServerKind } from './mongo-read-models';

interface PointerDocument {
  _id: string;
  active: string;
  building: string | null;
}

/**
 * Generations as databases: the configured one is the first, `<database>_gN` the later ones. The pointer is a document
 * in the configured database, which every process of the cluster reads.
 */
export class MongoReadModelGenerations implements ReadModelGenerations<MongoReadModels> {
  constructor(
    private readonly base: Db,
    private readonly server: MongoServerKind,
  ) {}

  readonly keepsRetired = true;

  async pointer(): Promise<GenerationPointer> {
    const doc = await this.pointers().findOne({ _id: 'read-models' });
    return doc ? { active: doc.active, building: doc.building ?? undefined } : { active: firstGeneration, building: undefined };
  }

  async open(name: string): Promise<ReadModelGeneration<MongoReadModels>> {
    const models = new MongoReadModels(this.db(name), this.server);
    await models.ensureIndexes();
    return { name, models, close: async () => undefined };
  }

  async markBuilding(name: string): Promise<void> {
    const current = await this.pointer();
    await this.pointers().replaceOne({ _id: 'read-models' }, { active: current.active, building: name }, { upsert: true });
  }

  async activate(name: string): Promise<void> {
    await this.pointers().replaceOne({ _id: 'read-models' }, { active: name, building: null }, { upsert: true });
  }

  describe(name: string): string {
    return `MongoDB database ${this.db(name).databaseName}`;
  }

  private pointers() {
    return this.base.collection<PointerDocument>('crest_generations');
  }

  private db(name: string): Db {
    return name === firstGeneration ? this.base : this.base.client.db(`${this.base.databaseName}_${name}`);
  }
}
