import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { FollowerStatus } from '../../projections/log-follower';

export interface OpsRouteDeps {
  readonly registry: Registry;
  /** True once the process can serve traffic (read models caught up, writers reachable). */
  readonly ready: () => boolean;
  /** Log followers that have been failing for too long, or halted: each makes the node not ready, by name. */
  readonly stalled?: () => readonly FollowerStatus[];
}

export const opsRoutes =
  (deps: OpsRouteDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/health/live', { schema: { tags: ['operations'] } }, async () => ({ status: 'live' }));
    app.get('/health/ready', { schema: { tags: ['operations'] } }, async (_request, reply) => {
      const stalled = deps.stalled?.() ?? [];
      if (stalled.length > 0) {
        const now = Date.now();
        return reply
          .status(503)
          .header('retry-after', '1')
          .send({
            status: 'stalled',
            stalled: stalled.map((s) => ({
              follower: s.name,
              state: s.state,
              position: s.position ?? null,
              attempts: s.attempts,
              failingForSeconds: s.failingSince === undefined ? 0 : Math.round((now - s.failingSince) / 100) / 10,
              error: s.lastError ?? null,
            })),
          });
      }
      return deps.ready() ? { status: 'ready' } : reply.status(503).header('retry-after', '1').send({ status: 'starting' });
    });
    app.get('/metrics', { schema: { tags: ['operations'] } }, async (_request, reply) =>
      reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
    );
  };
