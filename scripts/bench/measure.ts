/**
 * Running one measurement in a child process and watching it from outside:
 *
 * - peak RSS: the worker reports its own Node peak (getrusage maxRSS, exact); the tools it starts
 *   (pg_dump, pg_restore, psql) are read from /proc/<pid>/status (VmHWM, the kernel's high-water mark)
 *   every `sampleMs` (50 ms), walking the process tree from the worker;
 * - local disk: the job gets a dedicated, empty TMPDIR/RUNNER_TEMP, whose size (allocated blocks) is
 *   polled; its peak is the temp disk the contender needed;
 * - disk written: GNU time's %O, the file-system output blocks of the whole process tree (getrusage of
 *   the waited-for children), so writes anywhere else would show too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Job, JobResult } from './worker.js';

export interface ProcessPeak {
  pid: number;
  name: string;
  /** VmHWM at the last sample before the process ended, in bytes. */
  hwmBytes: number;
  /** User + system CPU seconds at the last sample (up to one sample interval short of the total). */
  cpuSeconds: number;
}

export interface Measured {
  result: JobResult;
  /** Every process of the tree seen while sampling (the worker's Node process and the tools it ran). */
  processes: ProcessPeak[];
  /** Sum of the peaks of the tools (not Node, not GNU time): an upper bound on their memory at any one time. */
  toolsPeakBytes: number;
  /** Peak of the largest single tool process, by name. */
  toolPeaks: Record<string, number>;
  /** CPU seconds by process name (Node's main thread is MainThread), from /proc at each sample: where the tree's CPU went. */
  cpuByProcess: Record<string, number>;
  /** Peak bytes allocated under the job's own temp directory. */
  localDiskPeakBytes: number;
  /** Bytes the process tree wrote to file systems (GNU time %O × 512); null without GNU time. */
  diskWrittenBytes: number | null;
  /** CPU seconds (user + system) of the whole process tree (GNU time); null without it. The database server's own CPU is not in it. */
  cpuSeconds: number | null;
  /** Average number of cores busy on the whole machine (every process: database, S3 server, anything else) while it ran. */
  machineCoresBusy: number;
}

/** Jiffies from /proc/stat's first line: [busy, total]. */
function cpuTimes(): [number, number] {
  const fields = (readText('/proc/stat') ?? '').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return [total - idle, total];
}

const TIME = '/usr/bin/time';
const HARNESS_NAMES = new Set(['time', 'node', 'MainThread']);

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** pid → parent pid, for every process we can see. */
function processTable(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    if (!stat) continue;
    // pid (comm) state ppid …; comm may contain spaces and parentheses, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  return children;
}

function descendants(root: number): number[] {
  const children = processTable();
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

function readStatus(pid: number): { name: string; hwmBytes: number; cpuSeconds: number } | undefined {
  const status = readText(`/proc/${pid}/status`);
  if (!status) return undefined;
  const name = /^Name:\s*(.+)$/m.exec(status)?.[1]?.trim() ?? '?';
  const hwm = /^VmHWM:\s*(\d+) kB$/m.exec(status);
  const stat = readText(`/proc/${pid}/stat`) ?? '';
  // Fields after the command's closing parenthesis: state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / TICKS_PER_SECOND;
  return { name, hwmBytes: hwm ? Number(hwm[1]) * 1024 : 0, cpuSeconds: Number.isFinite(cpuSeconds) ? cpuSeconds : 0 };
}

/** Allocated bytes under a directory (st_blocks × 512), ignoring entries that vanish mid-walk. */
export function allocatedBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      total += st.isDirectory() ? allocatedBytes(path) : st.blocks * 512;
    } catch {
      // gone already
    }
  }
  return total;
}

export interface RunOptions {
  /** The bundled worker. */
  worker: string;
  /** Where the job and result files go (not counted as temp disk). */
  controlDir: string;
  /** The job's own empty temp directory. */
  tempDir: string;
  sampleMs?: number;
  env?: NodeJS.ProcessEnv;
}

let sequence = 0;

export async function runMeasured(job: Job, options: RunOptions): Promise<Measured> {
  const n = ++sequence;
  mkdirSync(options.tempDir, { recursive: true });
  const jobFile = join(options.controlDir, `job-${n}.json`);
  const resultFile = join(options.controlDir, `result-${n}.json`);
  const timeFile = join(options.controlDir, `time-${n}.txt`);
  writeFileSync(jobFile, JSON.stringify(job));
  const useTime = existsSync(TIME);
  const node = process.execPath;
  // LIFEBOAT_BENCH_CPU_PROF=<dir>: each worker writes a V8 CPU profile there (open it in Chrome's DevTools).
  const profile = process.env.LIFEBOAT_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.LIFEBOAT_BENCH_CPU_PROF}`] : [];
  const [command, args] = useTime
    ? [TIME, ['-f', '%O %M %U %S', '-o', timeFile, node, ...profile, options.worker, jobFile, resultFile]]
    : [node, [...profile, options.worker, jobFile, resultFile]];
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env, TMPDIR: options.tempDir, RUNNER_TEMP: options.tempDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  const peaks = new Map<number, ProcessPeak>();
  let diskPeak = 0;
  const sample = () => {
    if (child.pid === undefined) return;
    for (const pid of descendants(child.pid)) {
      const status = readStatus(pid);
      if (!status) continue;
      const seen = peaks.get(pid);
      // A process that exec()s (time → node) changes name; keep the latest name and the highest mark.
      peaks.set(pid, { pid, name: status.name, hwmBytes: Math.max(seen?.hwmBytes ?? 0, status.hwmBytes), cpuSeconds: Math.max(seen?.cpuSeconds ?? 0, status.cpuSeconds) });
    }
    diskPeak = Math.max(diskPeak, allocatedBytes(options.tempDir));
  };
  const cpuBefore = cpuTimes();
  const timer = setInterval(sample, options.sampleMs ?? 50);
  sample();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearInterval(timer);
  const cpuAfter = cpuTimes();
  const cores = cpus().length || 1;
  const machineCoresBusy = ((cpuAfter[0] - cpuBefore[0]) / Math.max(1, cpuAfter[1] - cpuBefore[1])) * cores;
  diskPeak = Math.max(diskPeak, allocatedBytes(options.tempDir));

  const resultText = readText(resultFile);
  if (!resultText) throw new Error(`The benchmark worker for ${job.kind} exited with ${code} and no result:\n${output}`);
  const result = JSON.parse(resultText) as JobResult;
  if (!result.ok) throw new Error(`${job.kind} failed: ${result.error}\n${output}`);

  let diskWrittenBytes: number | null = null;
  let cpuSeconds: number | null = null;
  if (useTime) {
    const fields = (readText(timeFile)?.trim().split('\n').pop() ?? '').split(' ').map(Number);
    if (Number.isFinite(fields[0])) diskWrittenBytes = fields[0]! * 512;
    if (Number.isFinite(fields[2]) && Number.isFinite(fields[3])) cpuSeconds = fields[2]! + fields[3]!;
  }
  const processes = [...peaks.values()];
  // The worker is Node (its main thread is named MainThread in Node 24); GNU time is the harness.
  const tools = processes.filter((p) => !HARNESS_NAMES.has(p.name) && p.pid !== child.pid);
  const toolPeaks: Record<string, number> = {};
  for (const p of tools) toolPeaks[p.name] = Math.max(toolPeaks[p.name] ?? 0, p.hwmBytes);
  const cpuByProcess: Record<string, number> = {};
  for (const p of processes) if (p.name !== 'time') cpuByProcess[p.name] = Math.round(((cpuByProcess[p.name] ?? 0) + p.cpuSeconds) * 100) / 100;
  return {
    result,
    processes,
    toolsPeakBytes: tools.reduce((sum, p) => sum + p.hwmBytes, 0),
    toolPeaks,
    cpuByProcess,
    localDiskPeakBytes: diskPeak,
    diskWrittenBytes,
    cpuSeconds,
    machineCoresBusy,
  };
}
