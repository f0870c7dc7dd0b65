/** Where a log consumer (the checkout saga, the integration relay) remembers how far it has got in the global log. */
export interface CheckpointStore {
  load(name: string): Promise<number | undefined>;
  /** Never moves a checkpoint backwards. */
  save(name: string, position: number): Promise<void>;
}
