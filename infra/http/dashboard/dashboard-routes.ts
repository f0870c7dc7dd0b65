import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DashboardView, type DashboardData } from './dashboard-data';

export interface DashboardRouteDeps {
  readonly data: DashboardData;
  /** CREST_DASHBOARD_PUBLIC: the data without the admin token. */
  readonly public: boolean;
}

/** The page's own scripts and styles only; it talks to nothing but this origin. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
} as const;

const ASSETS = [
  { path: '/dashboard', file: 'dashboard.html', type: 'text/html; charset=utf-8' },
  { path: '/dashboard/dashboard.js', file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/dashboard.css', file: 'dashboard.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * The live sale page: a static shell (HTML, script, styles) that carries no data and is served to anyone, and
 * `GET /dashboard/data`, which requires the admin token unless the dashboard is public.
 */
export const dashboardRoutes =
  (deps: DashboardRouteDeps): FastifyPluginAsync =>
  async (root) => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    for (const asset of ASSETS) {
      const body = readFileSync(join(__dirname, 'static', asset.file));
      app.get(asset.path, { schema: { hide: true } }, async (_request, reply) => reply.headers(PAGE_HEADERS).type(asset.type).send(body));
    }
    app.get(
      '/dashboard/data',
      {
        config: { admin: !deps.public },
        schema: { tags: ['operations'], summary: 'Figures of the live sale page', security: deps.public ? [] : [{ admin: [] }], response: { 200: DashboardView } },
      },
      async (_request, reply) => {
        reply.header('cache-control', 'no-store');
        return deps.data.snapshot();
      },
    );
  };
