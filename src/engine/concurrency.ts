/** Runs `work` over `items` with at most `limit` in flight; the first failure stops new work and is thrown. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/**
 * Maps a stream with at most `limit` calls of `work` in flight, yielding results in the input's order.
 * At most `window` results wait to be taken, so memory stays bounded however long the stream is. On the
 * first failure, nothing new starts, what is in flight is waited for, and the failure is thrown.
 */
export async function* mapOrdered<T, R>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<R>, window = limit * 4): AsyncGenerator<R> {
  const iterator = items[Symbol.asyncIterator]();
  const queue: Promise<R>[] = [];
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && queue.length < Math.max(window, 1)) {
        const next = await iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        const pending = slot().then(() => work(next.value).finally(release));
        // Handled when its turn comes; until then a failure must not count as unhandled.
        pending.catch(() => undefined);
        queue.push(pending);
        // Keep pulling only while there is a free slot, so a slow head does not start the whole window.
        if (running >= limit) break;
      }
      const head = queue.shift();
      if (!head) return;
      yield await head;
    }
  } finally {
    await Promise.allSettled(queue);
    await iterator.return?.(undefined);
  }
}

/** Runs `work` over a stream with at most `limit` in flight; the first failure stops new work and is thrown. */
export async function forEachAsync<T>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  for await (const _ of mapOrdered(items, limit, work)) {
    // Results are nothing; the order is kept only to bound memory.
  }
}
