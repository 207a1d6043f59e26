/**
 * group — group commit. Work submitted while a flush is in flight waits for the next one and
 * shares it, so concurrent runs pay one transaction (one fsync, a few statements) between them; a
 * lone item is flushed at once, never delayed. At most one item per key is in flight (in a batch
 * or in any flush under way), so the writes of one run stay in order.
 */
export interface GroupOptions<T, R> {
  /** Flushes in flight at once. */
  concurrency: number;
  maxBatch: number;
  key(item: T): string;
  /** Writes a batch; per item, its result or the Error it alone failed with. */
  flush(items: readonly T[]): Promise<(R | Error)[]>;
  /**
   * Whether an error thrown by a whole flush concerns every item (the database is unreachable or
   * busy). Otherwise it belongs to one item (a value the database refuses), and each item of the
   * batch is flushed alone so the error reaches only its owner.
   */
  shared(error: unknown): boolean;
}

interface Entry<T, R> {
  item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

export class Group<T, R> {
  private queue: Entry<T, R>[] = [];
  private inFlight = 0;
  /** Keys of the items in flushes under way: their next item waits, so one key's writes stay in order. */
  private readonly busy = new Set<string>();

  constructor(private readonly options: GroupOptions<T, R>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch = this.take();
      if (batch.length === 0) return;
      const keys = batch.map((entry) => this.options.key(entry.item));
      for (const key of keys) this.busy.add(key);
      this.inFlight += 1;
      void this.flush(batch).finally(() => {
        for (const key of keys) this.busy.delete(key);
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private take(): Entry<T, R>[] {
    const batch: Entry<T, R>[] = [];
    const keys = new Set<string>();
    const rest: Entry<T, R>[] = [];
    for (const entry of this.queue) {
      const key = this.options.key(entry.item);
      if (batch.length < this.options.maxBatch && !keys.has(key) && !this.busy.has(key)) {
        keys.add(key);
        batch.push(entry);
      } else {
        rest.push(entry);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async flush(batch: Entry<T, R>[]): Promise<void> {
    let results: (R | Error)[];
    try {
      results = await this.options.flush(batch.map((entry) => entry.item));
    } catch (error) {
      if (batch.length === 1 || this.options.shared(error)) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      for (const entry of batch) await this.flush([entry]);
      return;
    }
    batch.forEach((entry, i) => {
      const result = results[i]!;
      if (result instanceof Error) entry.reject(result);
      else entry.resolve(result);
    });
  }
}
