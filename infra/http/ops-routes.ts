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

const BREAKER_METRIC = 'crest_circuit_breaker_open';

/**
 * Each circuit breaker's state, read from the same gauge `/metrics` shows (`crest_circuit_breaker_open{breaker}`), so
 * readiness and metrics cannot disagree. Readiness reports them but does not depend on them: with a breaker open the
 * node still serves (stale reads, orders), so taking it out of its load balancer would not help.
 */
const breakerStates = async (registry: Registry): Promise<Record<string, 'open' | 'half_open' | 'closed'> | undefined> => {
  const metric = registry.getSingleMetric(BREAKER_METRIC);
  if (!metric) return undefined;
  const { values } = await metric.get();
  if (values.length === 0) return undefined;
  const states: Record<string, 'open' | 'half_open' | 'closed'> = {};
  for (const { labels, value } of values) states[String(labels.breaker)] = value >= 1 ? 'open' : value > 0 ? 'half_open' : 'closed';
  return states;
};

export const opsRoutes =
  (deps: OpsRouteDeps): FastifyPluginAsync =>
  async (app) => {
    app.get('/health/live', { schema: { tags: ['operations'] } }, async () => ({ status: 'live' }));
    app.get('/health/ready', { schema: { tags: ['operations'] } }, async (_request, reply) => {
      const breakers = await breakerStates(deps.registry);
      const details = breakers ? { breakers } : {};
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
            ...details,
          });
      }
      return deps.ready() ? { status: 'ready', ...details } : reply.status(503).header('retry-after', '1').send({ status: 'starting', ...details });
    });
    app.get('/metrics', { schema: { tags: ['operations'] } }, async (_request, reply) =>
      reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
    );
  };
