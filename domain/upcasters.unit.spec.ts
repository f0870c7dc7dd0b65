import { expect } from 'chai';
import { eventDefinitions } from './events';
import { upcast, upcasters } from './upcasters';

describe('upcasters', () => {
  it('given a version 1 ProductListed without a description, when it is read, then it is version 2 with an empty description', () => {
    const read = upcast('ProductListed', 1, { sku: 'OLD-1', name: 'Old', category: 'shoes', priceCents: 100 });
    expect(read).to.deep.equal({ version: 2, data: { sku: 'OLD-1', name: 'Old', category: 'shoes', priceCents: 100, description: '' } });
    expect(() => eventDefinitions.ProductListed.schema.parse(read.data)).to.not.throw();
  });

  it('given a version 1 PaymentRequested, when it is read, then the card token it carried is gone', () => {
    const read = upcast('PaymentRequested', 1, { orderId: 'o', customerId: 'c', paymentId: 'p', amountCents: 100, paymentToken: 'tok_secret', requestedAt: '2025-06-01T10:00:00.000Z' });
    expect(read.version).to.equal(2);
    expect(read.data).to.not.have.property('paymentToken');
    expect(() => eventDefinitions.PaymentRequested.schema.parse(read.data)).to.not.throw();
  });

  it('given an event of its current version or of a type that never changed, when it is read, then it is passed on as is', () => {
    const data = { sku: 'NEW-1', name: 'New', category: 'shoes', priceCents: 100, description: 'd' };
    expect(upcast('ProductListed', 2, data).data).to.equal(data);
    const received = { sku: 'X', receiptId: 'r', quantity: 1 };
    expect(upcast('StockReceived', 1, received)).to.deep.equal({ version: 1, data: received });
  });

  it('has an upcaster for every version below each type’s current one', () => {
    for (const [type, definition] of Object.entries(eventDefinitions)) {
      for (let v = 1; v < definition.version; v++) expect(upcasters[type as keyof typeof upcasters]?.[v], `${type} v${v}`).to.be.a('function');
    }
  });
});
