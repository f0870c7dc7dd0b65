import type { Catalog } from '../catalog/catalog';
import { CommandRejectedError } from '../errors';
import type { CommandContext } from '../metadata';
import type { InventoryGateway } from './inventory-writers';
import type { WriterOutcome } from './inventory-writer';

const settled = (outcome: WriterOutcome): Extract<WriterOutcome, { ok: true }> => {
  if (!outcome.ok) throw new CommandRejectedError(outcome.rejection);
  return outcome;
};

/** Receipts and adjustments: ordinary-rate commands that still go through the SKU's single writer. */
export class StockCommands {
  constructor(
    private readonly catalog: Catalog,
    private readonly inventory: InventoryGateway,
  ) {}

  async receive(sku: string, input: { quantity: number; receiptId: string }, ctx: CommandContext) {
    await this.requireListed(sku);
    const outcome = settled(await this.inventory.submit({ type: 'ReceiveStock', sku, receiptId: input.receiptId, quantity: input.quantity }, ctx));
    return { sku, received: outcome.figures.received, available: outcome.figures.available, position: outcome.position };
  }

  async adjust(sku: string, input: { delta: number; reason: string; adjustmentId: string }, ctx: CommandContext) {
    await this.requireListed(sku);
    const outcome = settled(
      await this.inventory.submit({ type: 'AdjustStock', sku, adjustmentId: input.adjustmentId, delta: input.delta, reason: input.reason }, ctx),
    );
    return { sku, adjusted: outcome.figures.adjusted, available: outcome.figures.available, position: outcome.position };
  }

  private async requireListed(sku: string): Promise<void> {
    if (!(await this.catalog.listed(sku))) throw new CommandRejectedError({ code: 'unknown_sku', message: `No product is listed as ${sku}`, details: { sku } });
  }
}
