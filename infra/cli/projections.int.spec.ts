import { expect } from 'chai';
import { Tokens } from '../composition/root';
import { startCrest, type TestCrest } from '../../test/support/crest-harness';
import { waitFor } from '../../test/support/wait-for';
import { UsageError } from './events';
import { parseRebuildArgs, runRebuild } from './projections';

const capture = () => {
  let out = '';
  let err = '';
  return { io: { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } }, out: () => out, err: () => err };
};

describe('crest projections rebuild (against a running Crest)', function () {
  this.timeout(60_000);
  let crest: TestCrest | undefined;

  before(async () => {
    // a log long enough that a rebuild is still under way when the operator interrupts it
    crest = await startCrest({ CREST_PROJECTION_BATCH: '200' });
    const store = crest.running.container.get(Tokens.EventStore);
    for (let batch = 0; batch < 60; batch++) {
      const events = Array.from({ length: 1000 }, (_, i) => ({
        id: `seed-${batch}-${i}`,
        type: 'StockReceived',
        data: { sku: `SEED-${i % 50}`, receiptId: `seed-${batch}-${i}`, quantity: 1 },
        metadata: {},
      }));
      await store.appendToStream(`inventory-SEED-${batch}`, events, 'any');
    }
    await waitFor(() => crest!.running.container.get(Tokens.Progress).ready(), 30_000, 'the live read models');
  });

  after(async () => crest?.dispose());

  it('cancels the rebuild on Ctrl-C, says how to resume, and running it again resumes the same generation', async () => {
    // given an operator following a rebuild
    const client = { url: crest!.url, adminToken: crest!.adminToken, pollMs: 20 };
    const first = capture();
    // when they press Ctrl-C while it builds
    const code = await runRebuild(parseRebuildArgs(['rebuild']), { ...client, interrupted: Promise.resolve() }, first.io);
    // then it is cancelled, exit code 1, with the way to resume
    expect(code, first.out() + first.err()).to.equal(1);
    expect(first.out()).to.match(/the rebuild of generation g1 was cancelled at \d+: crest projections rebuild resumes it/);
    const cancelledAt = Number(/cancelled at (\d+)/.exec(first.out())![1]);
    // when they run it again with --switch
    const second = capture();
    expect(await runRebuild(parseRebuildArgs(['rebuild', '--switch']), client, second.io), second.out() + second.err()).to.equal(0);
    // then the same generation resumed from where it stopped, and readers moved to it
    expect(second.err()).to.match(/rebuilding generation g1|generation g1 has caught up/);
    expect(second.out()).to.match(/readers use generation g1 .*switched from generation g0/);
    const status = await crest!.call('GET', '/v1/admin/read-models', { admin: true });
    expect(status.body.rebuild.events).to.be.below(status.body.rebuild.position - cancelledAt + 1);
  });

  it('names a flag it does not know, or a bad URL, as a usage error', () => {
    expect(() => parseRebuildArgs(['rebuild', '--swich'])).to.throw(UsageError, /--swich/);
    expect(() => parseRebuildArgs(['rebuild', '--url', 'localhost:3000'])).to.throw(UsageError, /--url must be an http\(s\) URL/);
    expect(() => parseRebuildArgs(['rebuild', '--status', '--cancel'])).to.throw(UsageError, /cannot go together/);
    expect(() => parseRebuildArgs(['replay'])).to.throw(UsageError, /needs rebuild/);
  });
});
