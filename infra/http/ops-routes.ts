import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export interface OpsRouteDeps {
  readonly registry: Registry;
  /** True once the process can serve traffic (read models caught up, writers reachable). */
  readonly ready: () => boolean;
}

export const opsRoutes =
  (deps: OpsRouteDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/health/live', { schema: { tags: ['operations'] } }, async () => ({ status: 'live' }));
    app.get('/health/ready', { schema: { tags: ['operations'] } }, async (_request, reply) =>
      deps.ready() ? { status: 'ready' } : reply.status(503).header('retry-after', '1').send({ status: 'starting' }),
    );
    app.get('/metrics', { schema: { tags: ['operations'] } }, async (_request, reply) =>
      reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
    );
  };
