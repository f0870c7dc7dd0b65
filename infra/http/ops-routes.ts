import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { FollowerStatus } from '../../projections/log-follower';

export interface OpsRouteDeps {
  readonly registry: Registry;
  /** True once the process can serve traffic (read models caught up, writers reachable). */
  readonly ready: () => boolean;
  /** Log followers that have been failing for too long, or halted: each makes the node not ready, by name. */
  readonly stalled?: () => readonly FollowerStatus[];
}

const BREAKER_METRIC = 'crest_circuit_breaker_open';

const Readiness = z
  .object({
    status: z.enum(['ready', 'starting', 'stalled']),
    breakers: z.record(z.string(), z.enum(['open', 'half_open', 'closed'])).optional(),
    stalled: z
      .array(z.object({ follower: z.string(), state: z.string(), position: z.number().nullable(), attempts: z.number(), failingForSeconds: z.number(), error: z.string().nullable() }))
      .optional(),
  })
  .describe('200 ready; 503 while starting (read models catching up) or while a log follower is stalled or halted (`stalled` names it)');
const PrometheusText = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } };

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
    // the response schemas are zod, for the document: serialize plainly wherever these routes are mounted
    app.setSerializerCompiler(() => (data) => JSON.stringify(data));
    app.get('/health/live', { schema: { tags: ['operations'], response: { 200: z.object({ status: z.literal('live') }) } } }, async () => ({ status: 'live' }));
    app.get('/health/ready', { schema: { tags: ['operations'], response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
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
    app.get('/metrics', { schema: { tags: ['operations'], response: { 200: PrometheusText } } }, async (_request, reply) =>
      reply.type(deps.registry.contentType).send(await deps.registry.metrics()),
    );
  };
