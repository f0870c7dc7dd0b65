import { streamName } from '../../domain/kernel/streams';
import { saleDecider, type SaleCommand, type SaleTerms } from '../../domain/sale/sale';
import type { Catalog } from '../catalog/catalog';
import { CommandRejectedError } from '../errors';
import { handleCommand, loadStream, type CommandDeps } from '../handle-command';
import type { InventoryGateway } from '../inventory/inventory-writers';
import type { CommandContext } from '../metadata';
import type { SaleCalendar } from './sale-calendar';

export type SaleInput = Omit<SaleTerms, 'saleId'>;

/**
 * Scheduling and cancelling flash sales. The sale's own stream records it; the SKU's writer is told first, because it
 * is the one place that sees every sale of the SKU one command at a time (so it refuses an overlap) and the one that
 * enforces the window and the limit. If the sale's own append then fails, the same PUT again finishes the job: the
 * writer writes nothing for a sale it already knows.
 */
export class SaleCommands {
  constructor(
    private readonly deps: CommandDeps,
    private readonly catalog: Catalog,
    private readonly inventory: InventoryGateway,
    private readonly calendar: SaleCalendar,
  ) {}

  /** `created` is true for a new sale (or one scheduled again after it was cancelled). */
  async schedule(saleId: string, input: SaleInput, ctx: CommandContext): Promise<{ saleId: string; created: boolean; position: number }> {
    if (!(await this.catalog.listed(input.sku))) throw new CommandRejectedError({ code: 'unknown_sku', message: `Not listed: ${input.sku}`, details: { skus: [input.sku] } });
    const command = (): SaleCommand => ({ type: 'ScheduleSale', saleId, ...input });
    const streamId = streamName('sale', saleId);
    const current = await loadStream(this.deps.store, streamId, saleDecider);
    const decision = saleDecider.decide(command(), current.state);
    if (!decision.ok) throw new CommandRejectedError(decision.rejection);
    if (decision.events.length === 0) return { saleId, created: false, position: current.position };
    const terms = decision.events[0]!.data as SaleTerms;
    const planned = await this.inventory.submit({ type: 'PlanSale', ...terms }, ctx);
    if (!planned.ok) throw new CommandRejectedError(planned.rejection);
    const result = await handleCommand(this.deps, streamId, saleDecider, command, ctx);
    await this.calendar.reload(saleId);
    return { saleId, created: result.previous.status !== 'active', position: Math.max(result.position, planned.position) };
  }

  async cancel(saleId: string, ctx: CommandContext): Promise<{ saleId: string; position: number }> {
    const streamId = streamName('sale', saleId);
    const current = await loadStream(this.deps.store, streamId, saleDecider);
    const decision = saleDecider.decide({ type: 'CancelSale', saleId }, current.state);
    if (!decision.ok) throw new CommandRejectedError(decision.rejection);
    if (decision.events.length === 0) return { saleId, position: current.position };
    const withdrawn = await this.inventory.submit({ type: 'WithdrawSale', sku: current.state.terms!.sku, saleId }, ctx);
    if (!withdrawn.ok) throw new CommandRejectedError(withdrawn.rejection);
    const result = await handleCommand(this.deps, streamId, saleDecider, (): SaleCommand => ({ type: 'CancelSale', saleId }), ctx);
    await this.calendar.reload(saleId);
    return { saleId, position: Math.max(result.position, withdrawn.position) };
  }
}
