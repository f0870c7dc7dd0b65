import { streamName } from '../../domain/kernel/streams';
import { productDecider, type ProductCommand } from '../../domain/product/product';
import { handleCommand, type CommandDeps } from '../handle-command';
import type { CommandContext } from '../metadata';
import type { Catalog } from './catalog';

export interface ProductDetails {
  readonly name: string;
  readonly category: string;
  readonly priceCents: number;
  readonly description?: string | undefined;
}

export class ProductCommands {
  constructor(
    private readonly deps: CommandDeps,
    private readonly catalog: Catalog,
  ) {}

  /** Lists or updates a product. `created` is true when the SKU had no listing before. */
  async upsert(sku: string, details: ProductDetails, ctx: CommandContext): Promise<{ sku: string; created: boolean; position: number }> {
    const result = await handleCommand(
      this.deps,
      streamName('product', sku),
      productDecider,
      (): ProductCommand => ({ type: 'UpsertProduct', sku, name: details.name, category: details.category, priceCents: details.priceCents, description: details.description ?? '' }),
      ctx,
    );
    this.catalog.remember(sku, { state: result.state, revision: result.revision });
    return { sku, created: result.previous.status !== 'listed', position: result.position };
  }

  async delist(sku: string, ctx: CommandContext): Promise<{ sku: string; position: number }> {
    const result = await handleCommand(this.deps, streamName('product', sku), productDecider, (): ProductCommand => ({ type: 'DelistProduct', sku }), ctx);
    this.catalog.remember(sku, { state: result.state, revision: result.revision });
    return { sku, position: result.position };
  }
}
