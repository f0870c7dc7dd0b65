import { expect } from 'chai';
import { request } from 'node:http';
import { problemTypes } from '../../infra/http/problem';
import { startCrest, type TestCrest } from '../support/crest-harness';

interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: { properties?: { code?: { enum?: string[] } } } }> }>;
}

/** Any method, TRACE included (fetch refuses it): status, Allow and body. */
const send = (url: string, method: string): Promise<{ status: number; allow: string | undefined; type: string | undefined; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });

describe('the OpenAPI document and the methods a path answers', () => {
  let crest: TestCrest;
  let paths: Record<string, Record<string, Operation>>;
  before(async () => {
    crest = await startCrest();
    paths = (await crest.call('GET', '/openapi.json')).body.paths;
  });
  after(() => crest.dispose());

  it('given every operation, then each error status it lists is problem+json (readiness\'s 503 aside), and its codes are registered codes of that status', () => {
    let checked = 0;
    for (const [path, operations] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) < 400) continue;
          const problem = response.content?.['application/problem+json'];
          // readiness answers 503 with its own body (starting, stalled), not a problem
          if (path === '/health/ready' && status === '503' && !problem) continue;
          expect(problem, `${method} ${path} ${status} is problem+json`).to.not.equal(undefined);
          const codes = problem!.schema?.properties?.code?.enum ?? [];
          expect(codes, `${method} ${path} ${status} names its codes`).to.not.be.empty;
          for (const code of codes) expect(problemTypes[code as keyof typeof problemTypes]?.status, `${method} ${path}: ${code}`).to.equal(Number(status));
          checked++;
        }
        expect(operation.responses, `${method} ${path} documents internal_error`).to.have.property('500');
      }
    }
    expect(checked).to.be.above(40);
  });

  it('given POST /v1/orders, then its 409 lists the refusals an order can meet, and its 400 the body problems', () => {
    const responses = paths['/v1/orders']!.post!.responses;
    expect(responses['409']!.content!['application/problem+json']!.schema!.properties!.code!.enum).to.include.members(['out_of_stock', 'sale_not_started', 'purchase_limit_exceeded']);
    expect(responses['400']!.content!['application/problem+json']!.schema!.properties!.code!.enum).to.include.members(['validation_failed', 'malformed_json']);
    expect(responses).to.have.property('422');
  });

  it('given a known path, when another method is used, then 405 problem+json names the allowed ones in Allow', async () => {
    for (const method of ['TRACE', 'PATCH', 'DELETE', 'QUERY']) {
      const answer = await send(`${crest.url}/v1/orders/ord_aaaaaaaaaaaaaaaaaaaaaaaa`, method);
      expect(answer.status, method).to.equal(405);
      expect(answer.allow, method).to.equal('GET, HEAD');
      expect(answer.type).to.match(/^application\/problem\+json/);
      expect((JSON.parse(answer.body) as { code: string }).code).to.equal('method_not_allowed');
    }
    const products = await fetch(`${crest.url}/v1/products/SKU-1`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([products.status, products.headers.get('allow')]).to.deep.equal([405, 'DELETE, GET, HEAD, PUT']);
  });

  it('given an unknown path, then it is 404 not_found whatever the method', async () => {
    for (const method of ['GET', 'TRACE']) {
      const answer = await send(`${crest.url}/v1/nothing-here`, method);
      expect(answer.status, method).to.equal(404);
    }
  });
});
