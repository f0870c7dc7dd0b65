import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorsDoc } from '../../infra/http/errors-doc';
import { problemTypes } from '../../infra/http/problem';

describe('docs/errors.md', () => {
  it('given the problem registry, when the doc is rendered, then the committed file is the same', () => {
    // given the file in the repository
    const committed = readFileSync(join(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    // when the registry is rendered
    // then they agree
    expect(committed, 'docs/errors.md is out of date: run npm run docs:errors').to.equal(renderErrorsDoc());
  });

  it('given every code, then it has a status, a title and advice for a client', () => {
    for (const [code, type] of Object.entries(problemTypes)) {
      expect(type.status, code).to.be.within(400, 599);
      expect(type.title, code).to.have.length.above(3);
      expect(type.advice, code).to.have.length.above(10);
    }
  });
});
