/**
 * Sorting by key in bounded memory: items are gathered in runs of at most `runSize`, each run sorted
 * and, when there is more than one, written to a temporary file as one JSON line per item; then the runs
 * are merged, one item of each in memory. A stream that fits in one run never touches the disk.
 *
 * Media needs this because S3 servers do not all list in key order (s3rver walks its directories, so
 * 'a/b' comes before 'a.txt'), and the merge-joins of backup, restore and prune need both sides in one
 * order. The temporary files take about the size of the listing as JSON (~150 bytes per object) and are
 * removed when the sort ends; ones left by a killed process are removed by the next sort (docs/media.md).
 */
import { createReadStream } from 'node:fs';
import { appendFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { compareKeys } from '../../domain/media-index.js';

export const DEFAULT_RUN_SIZE = 20_000;
const TEMP_PREFIX = 'lifeboat-sort-';

export interface SortOptions<T> {
  key: (item: T) => string;
  /** Items held in memory at once. */
  runSize?: number;
  /** Drop items whose key equals the previous one's. */
  dedupe?: boolean;
  /** Where the runs go: the runner's temporary directory by default. */
  tempRoot?: string;
}

/** Where temporary runs go: GitHub's per-job temporary directory when there is one (it is wiped after the job). */
export function tempRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNNER_TEMP || tmpdir();
}

/** Directories already swept by this process: once each is enough. */
const swept = new Set<string>();

/** Removes run directories of processes that no longer exist (killed with SIGKILL mid-sort). */
async function sweepOrphans(root: string): Promise<void> {
  if (swept.has(root)) return;
  swept.add(root);
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names) {
    const match = /^lifeboat-sort-(\d+)-/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(join(root, name), { recursive: true, force: true }).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function* sortedByKey<T>(items: AsyncIterable<T>, options: SortOptions<T>): AsyncGenerator<T> {
  const runSize = options.runSize ?? DEFAULT_RUN_SIZE;
  const byKey = (a: T, b: T) => compareKeys(options.key(a), options.key(b));
  let buffer: T[] = [];
  let directory: string | undefined;
  const runs: string[] = [];
  try {
    const spill = async () => {
      if (!directory) {
        const root = options.tempRoot ?? tempRoot();
        await sweepOrphans(root);
        directory = await mkdtemp(join(root, `${TEMP_PREFIX}${process.pid}-`));
      }
      buffer.sort(byKey);
      const file = join(directory, `run-${runs.length}.jsonl`);
      await writeFile(file, buffer.map((item) => JSON.stringify(item) + '\n').join(''));
      runs.push(file);
      buffer = [];
    };
    for await (const item of items) {
      buffer.push(item);
      if (buffer.length >= runSize) await spill();
    }
    let merged: AsyncIterable<T>;
    if (runs.length === 0) {
      buffer.sort(byKey);
      merged = (async function* () {
        yield* buffer;
      })();
    } else {
      if (buffer.length) await spill();
      merged = mergeRuns(runs, options.key);
    }
    let last: string | undefined;
    for await (const item of merged) {
      const key = options.key(item);
      if (options.dedupe && last !== undefined && key === last) continue;
      last = key;
      yield item;
    }
  } finally {
    if (directory) await rm(directory, { recursive: true, force: true });
  }
}

async function* mergeRuns<T>(files: readonly string[], key: (item: T) => string): AsyncGenerator<T> {
  const readers = files.map((file) => createInterface({ input: createReadStream(file), crlfDelay: Infinity })[Symbol.asyncIterator]());
  try {
    const heads: (T | undefined)[] = [];
    for (const reader of readers) heads.push(await nextItem<T>(reader));
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (head === undefined) continue;
        if (best < 0 || compareKeys(key(head), key(heads[best]!)) < 0) best = i;
      }
      if (best < 0) return;
      yield heads[best]!;
      heads[best] = await nextItem<T>(readers[best]!);
    }
  } finally {
    for (const reader of readers) await reader.return?.();
  }
}

async function nextItem<T>(reader: AsyncIterator<string>): Promise<T | undefined> {
  const next = await reader.next();
  return next.done ? undefined : (JSON.parse(next.value) as T);
}

/**
 * A list that may grow past memory: items beyond `limit` are appended to a temporary file as JSON lines.
 * Read back in the order pushed. `dispose` removes the file.
 */
export class SpillList<T> {
  count = 0;
  private memory: T[] = [];
  private directory: string | undefined;
  private file: string | undefined;

  constructor(
    private readonly limit = DEFAULT_RUN_SIZE,
    private readonly root?: string,
  ) {}

  async push(item: T): Promise<void> {
    this.memory.push(item);
    this.count++;
    if (this.memory.length >= this.limit) await this.spill();
  }

  private async spill(): Promise<void> {
    if (!this.directory) {
      const root = this.root ?? tempRoot();
      await sweepOrphans(root);
      this.directory = await mkdtemp(join(root, `${TEMP_PREFIX}${process.pid}-`));
      this.file = join(this.directory, 'list.jsonl');
    }
    await appendFile(this.file!, this.memory.map((item) => JSON.stringify(item) + '\n').join(''));
    this.memory = [];
  }

  async *items(): AsyncGenerator<T> {
    if (this.file) {
      const lines = createInterface({ input: createReadStream(this.file), crlfDelay: Infinity });
      for await (const line of lines) yield JSON.parse(line) as T;
    }
    yield* this.memory;
  }

  /** The items in batches of `size`. */
  async *batches(size: number): AsyncGenerator<T[]> {
    let batch: T[] = [];
    for await (const item of this.items()) {
      batch.push(item);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
  }

  async dispose(): Promise<void> {
    this.memory = [];
    if (this.directory) await rm(this.directory, { recursive: true, force: true });
    this.directory = undefined;
    this.file = undefined;
  }
}
