import type { RouteOptions } from 'fastify';
import { z } from 'zod';
import { problemTypes, type ProblemCode } from './problem';

/** What the app's own policies can answer on a route, beyond the route's own refusals. */
export interface ProblemPolicies {
  /** Requests are shed with 503 when the event loop lags. */
  readonly shedsLoad: boolean;
  /** Customer routes require a customer JWT. */
  readonly customerAuth: boolean;
  /** Customer routes are limited per client address. */
  readonly ipLimit: boolean;
  /** Orders are limited per customer or overall. */
  readonly orderLimit: boolean;
}

const bodyProblems: readonly ProblemCode[] = ['validation_failed', 'malformed_json', 'payload_too_large', 'unsupported_media_type'];

/** Every problem code a route can answer: its own, and those of the policies that apply to it. */
export const routeProblemCodes = (route: Pick<RouteOptions, 'schema' | 'config'>, policies: ProblemPolicies): ProblemCode[] => {
  const schema = route.schema ?? {};
  const config = (route.config ?? {}) as { admin?: boolean; customer?: boolean; customerRateLimit?: boolean; problems?: readonly ProblemCode[] };
  const codes = new Set<ProblemCode>(config.problems ?? []);
  if (schema.body) for (const code of bodyProblems) codes.add(code);
  if (schema.querystring || schema.params || schema.headers) codes.add('validation_failed');
  if (config.admin) codes.add('unauthorized').add('forbidden');
  if (config.customer && policies.customerAuth) codes.add('unauthorized').add('customer_mismatch');
  if ((config.customer && policies.ipLimit) || (config.customerRateLimit && policies.orderLimit)) codes.add('rate_limited');
  if (policies.shedsLoad) codes.add('overloaded');
  codes.add('internal_error');
  return [...codes].sort();
};

const problemBody = (status: number, codes: readonly [ProblemCode, ...ProblemCode[]]) =>
  z
    .object({
      type: z.string().describe('https://crest.dev/problems/<code>'),
      title: z.string(),
      status: z.literal(status),
      code: z.enum(codes).describe('Stable and machine-readable: docs/errors.md says what each one means and what to do'),
      detail: z.string(),
      instance: z.string(),
    })
    .loose()
    .describe('RFC 7807 problem; some codes carry more members (errors, skus, startsAt, limit, held, …)');

/**
 * Documents every problem a route can answer in its OpenAPI responses: one `application/problem+json` response per
 * status, whose `code` is the enum of that route's codes with that status. Called for every route as it is added.
 */
export const documentProblems = (route: RouteOptions, policies: ProblemPolicies): void => {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of routeProblemCodes(route, policies)) {
    const { status } = problemTypes[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const response: Record<string, unknown> = { ...((route.schema?.response as Record<string, unknown> | undefined) ?? {}) };
  for (const [status, codes] of byStatus) {
    const description = codes.map((c) => `\`${c}\`: ${problemTypes[c].title}`).join('; ');
    const problem = { 'application/problem+json': { schema: problemBody(status, codes as [ProblemCode, ...ProblemCode[]]) } };
    // a status the route already answers with a body of its own (readiness's 503) keeps it beside the problem
    const own = response[String(status)];
    response[String(status)] = own ? { description, content: { 'application/json': { schema: own }, ...problem } } : { description, content: problem };
  }
  route.schema = { ...route.schema, response };
};

/** The methods each known path answers, so that another method on it gets 405 with `Allow` instead of 404. */
export class AllowedMethods {
  private readonly routes: Array<{ readonly pattern: RegExp; readonly methods: Set<string> }> = [];

  add(url: string, methods: string | readonly string[]): void {
    const source = `^${url
      .replace(/\/$/, '')
      .split('/')
      .map((part) => (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/')}/?$`;
    let route = this.routes.find((r) => r.pattern.source === source);
    if (!route) {
      route = { pattern: new RegExp(source), methods: new Set() };
      this.routes.push(route);
    }
    for (const method of typeof methods === 'string' ? [methods] : methods) route.methods.add(method);
  }

  /** The methods `url`'s path answers, sorted; empty for an unknown path. */
  allowed(url: string): string[] {
    const path = url.split('?')[0] ?? url;
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}
