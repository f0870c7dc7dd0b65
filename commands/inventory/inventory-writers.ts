import type { InventoryCommand } from '../../domain/inventory/inventory';
import type { CommandContext } from '../metadata';
import { InventoryWriter, type StockFigures, type SubmitOptions, type WriterDeps, type WriterOutcome } from './inventory-writer';

/**
 * How command handlers reach the owner of an inventory stream. Embedded: an in-process writer per SKU.
 * Cluster: a request over the partitioned command log to whichever worker owns the SKU.
 */
export interface InventoryGateway {
  /**
   * Resolves once the command's events are durable, or with a rejection that wrote nothing. The options are only
   * for an owner in this process (`appendsAlongside`): `alongside` events commit in the same transaction as the
   * command's, or neither does; `onSent` tells where the command's first event will be, before it is durable.
   */
  submit(command: InventoryCommand, ctx: CommandContext, options?: SubmitOptions): Promise<WriterOutcome>;
  /** True when the SKU's owner is in this process and its store can commit several streams at once. */
  readonly appendsAlongside?: boolean;
  figures(sku: string): Promise<{ figures: StockFigures; position: number }>;
}

/** The embedded gateway: one in-process writer (mailbox) per SKU, created on first use. */
export class InventoryWriters implements InventoryGateway {
  private readonly writers = new Map<string, InventoryWriter>();

  constructor(private readonly deps: WriterDeps) {}

  writerFor(sku: string): InventoryWriter {
    let writer = this.writers.get(sku);
    if (!writer) {
      writer = new InventoryWriter(sku, this.deps);
      this.writers.set(sku, writer);
    }
    return writer;
  }

  get appendsAlongside(): boolean {
    return this.deps.store.appendToStreams !== undefined;
  }

  submit(command: InventoryCommand, ctx: CommandContext, options?: SubmitOptions): Promise<WriterOutcome> {
    return this.writerFor(command.sku).submit(command, ctx, options);
  }

  figures(sku: string): Promise<{ figures: StockFigures; position: number }> {
    return this.writerFor(sku).figures();
  }

  stop(): void {
    this.reset();
  }

  /** Drops every writer (after a change of ownership); each reloads from its snapshot and tail on its next command. */
  reset(): number {
    const dropped = this.writers.size;
    for (const w of this.writers.values()) w.stop();
    this.writers.clear();
    return dropped;
  }
}
