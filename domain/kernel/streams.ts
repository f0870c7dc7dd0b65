export type Category = 'product' | 'inventory' | 'order' | 'payment' | 'checkout' | 'callback' | 'sale';

export const streamName = (category: Category, id: string): string => `${category}-${id}`;

export const categoryOf = (streamId: string): string => {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
};

export const idOf = (streamId: string): string => {
  const dash = streamId.indexOf('-');
  return dash < 0 ? '' : streamId.slice(dash + 1);
};
