import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BlueGreenReadModels, RebuildStatus } from '../blue-green-read-models';
import type { ReadModelStore } from '../ports';

export interface RebuildRouteDeps {
  readonly readModels: BlueGreenReadModels<ReadModelStore>;
}

const RebuildView = z.object({
  generation: z.string(),
  target: z.string(),
  replacing: z.string(),
  replacingTarget: z.string(),
  replacingKept: z.boolean().describe('Whether the replaced generation stays (a file, a database) until an operator drops it'),
  state: z.enum(['building', 'caught_up', 'switched', 'cancelled', 'failed']),
  position: z.number().int(),
  head: z.number().int(),
  events: z.number().int(),
  eventsPerSecond: z.number().int(),
  etaSeconds: z.number().int().nullable(),
  switchWhenCaughtUp: z.boolean(),
  error: z.string().nullable(),
});
const ReadModelsView = z.object({
  generation: z.string().describe('The generation readers use now'),
  target: z.string(),
  position: z.number().int(),
  rebuild: RebuildView.nullable().describe('The rebuild running or last run by this process, if any'),
});
/** What the admin routes answer, for their clients (`crest projections rebuild`). */
export type ReadModelsWire = z.infer<typeof ReadModelsView>;

const RebuildBody = z.object({ switch: z.boolean().default(false).describe('Move readers to the new generation as soon as it has caught up') }).strict();

const admin = { admin: true } as const;
const adminSecurity = [{ admin: [] }];
const tags = ['operations'];

/**
 * Blue/green rebuilds of the read models, for operators (`crest projections rebuild`): where the process that
 * projects them (`crest start`, or `crest work projections`) builds a new generation beside the live one.
 */
export const rebuildRoutes =
  (deps: RebuildRouteDeps): FastifyPluginAsync =>
  async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>();
    const view = (): z.infer<typeof ReadModelsView> => {
      const rebuild = deps.readModels.status();
      return { generation: deps.readModels.generation, target: deps.readModels.target, position: deps.readModels.progress.position(), rebuild: rebuild ? wire(rebuild) : null };
    };
    app.get('/v1/admin/read-models', { config: admin, schema: { tags, security: adminSecurity, response: { 200: ReadModelsView } } }, async () => view());
    app.post(
      '/v1/admin/read-models/rebuild',
      { config: admin, schema: { tags, security: adminSecurity, body: RebuildBody, response: { 202: ReadModelsView } } },
      async (request, reply) => {
        await deps.readModels.rebuild(request.body?.switch ?? false);
        return reply.status(202).send(view());
      },
    );
    app.delete('/v1/admin/read-models/rebuild', { config: admin, schema: { tags, security: adminSecurity, response: { 200: ReadModelsView } } }, async () => {
      await deps.readModels.cancel();
      return view();
    });
    app.post('/v1/admin/read-models/switch', { config: admin, schema: { tags, security: adminSecurity, response: { 200: ReadModelsView } } }, async () => {
      await deps.readModels.switchOver();
      return view();
    });
  };

const wire = (status: RebuildStatus): z.infer<typeof RebuildView> => ({ ...status, etaSeconds: status.etaSeconds ?? null, error: status.error ?? null });
