import { expect } from 'chai';
import { accept, reject, unchanged, type Decider } from '../../domain/kernel/decider';
import { DeciderSpecification } from './decider-spec';

// A counter that refuses to go below zero: just enough to see the helper fail when it should.
type Command = { readonly type: 'Add'; readonly by: number };
type Event = { readonly type: 'Added'; readonly by: number };
const counter: Decider<Command, Event, number> = {
  initialState: () => 0,
  decide: (command, total) => (command.by === 0 ? unchanged() : total + command.by < 0 ? reject('insufficient_stock', 'would go below zero') : accept({ type: 'Added', by: command.by })),
  evolve: (total, event) => total + event.by,
};
const spec = DeciderSpecification.for(counter);

describe('DeciderSpecification', () => {
  it('folds the given events before deciding', () => spec.given([{ type: 'Added', by: 2 }]).when({ type: 'Add', by: -2 }).then([{ type: 'Added', by: -2 }]));

  it('fails then() when the events differ', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: 1 }).then([{ type: 'Added', by: 2 }])).to.throw();
  });

  it('fails then() when the command is rejected, naming the rejection', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: -1 }).then([])).to.throw(/insufficient_stock/);
  });

  it('fails thenNothing() when events are produced', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: 1 }).thenNothing()).to.throw();
  });

  it('fails thenNothing() when the command is rejected', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: -1 }).thenNothing()).to.throw(/insufficient_stock/);
  });

  it('fails thenRejects() when the command is accepted', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: 1 }).thenRejects('negative')).to.throw(/accepted/);
  });

  it('fails thenRejects() on a different rejection code', () => {
    expect(() => spec.given([]).when({ type: 'Add', by: -1 }).thenRejects('other')).to.throw();
  });

  it('refuses to be awaited as a promise without an assertion', () => {
    const pending = spec.given([]).when({ type: 'Add', by: 1 }) as unknown as { then: (resolve: () => void) => void };
    expect(() => pending.then(() => undefined)).to.throw(TypeError);
  });
});
