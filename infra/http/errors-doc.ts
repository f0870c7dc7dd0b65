import { problemTypes, type ProblemCode } from './problem';

/**
 * docs/errors.md, rendered from the one problem registry: every code, its status, its title and what a client should
 * do. `npm run docs:errors` writes it; a unit spec fails when the file and the registry disagree.
 */
export const renderErrorsDoc = (): string => {
  const codes = (Object.keys(problemTypes) as ProblemCode[]).sort((a, b) => problemTypes[a].status - problemTypes[b].status || (a < b ? -1 : 1));
  const rows = codes.map((code) => {
    const { status, title, advice } = problemTypes[code];
    return `| \`${code}\` | ${status} | ${title} | ${advice.replaceAll('|', '\\|')} |`;
  });
  return [
    '# Errors',
    '',
    '<!-- Generated from infra/http/problem.ts by `npm run docs:errors`; test/ops/errors-doc.unit.spec.ts checks it. Do not edit by hand. -->',
    '',
    'Every refusal is an RFC 7807 `application/problem+json` body with a stable, machine-readable `code`:',
    '',
    '```json',
    '{"type":"https://crest.dev/problems/out_of_stock","title":"Not enough stock","status":409,"code":"out_of_stock","detail":"Not enough stock for: SNEAKER-42","instance":"/v1/orders","skus":["SNEAKER-42"],"available":0}',
    '```',
    '',
    'Branch on `code`, never on `title` or `detail` (those are for people and may change). Some codes carry more members: `errors` (which field, what is wrong) on `validation_failed`; `skus` and `available` on `out_of_stock`; `startsAt` on `sale_not_started`; `limit` and `held` on `purchase_limit_exceeded`; `orderStatus` (the status of the order now) on `order_not_cancellable`, `order_not_payable` and `order_not_confirmable`. Every `503` and `429` carries `Retry-After`; a `405` carries `Allow`.',
    '',
    'The OpenAPI document (`/openapi.json`) lists, for every route, each status it can answer and, per status, the enum of the codes that route can give. Codes are a TypeScript union in the server: a code that is not here does not compile.',
    '',
    '| code | status | title | what a client should do |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
};
