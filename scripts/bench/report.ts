/** The benchmark's results: their JSON shape, and the markdown tables printed and put in docs/benchmark.md. */
import type { ScaleModel, WrittenSince } from './media-scale.js';

export interface Measurement {
  /** Stable id, e.g. `backup.lifeboat`. */
  id: string;
  group: 'backup' | 'parallel-dump' | 'restore' | 'media' | 'media-scale' | 'catalog' | 'diagnostics';
  /** What ran, as a reader would name it. */
  name: string;
  /** Median of `runsMs` when repeated. */
  wallMs: number;
  runsMs: number[];
  throughput: { value: number; unit: 'MiB/s' | 'objects/s' | 'backups/s'; basis: string } | null;
  /** The measurement this one is compared with, and wallMs / baseline's wallMs. */
  baseline: string | null;
  ratio: number | null;
  /** Peak RSS of Lifeboat's (or the baseline's) own Node process; null when no Node code is part of the contender. */
  nodePeakRssBytes: number | null;
  /** Sum of the peak RSS of the tools it ran (pg_dump, pg_restore, psql), sampled from /proc. */
  toolsPeakRssBytes: number;
  toolPeaks: Record<string, number>;
  /** CPU seconds by process name (the Node worker is MainThread); see measure.ts. */
  cpuByProcess?: Record<string, number>;
  /** Peak bytes on the runner's local disk under the job's temp directory (temp files, or the dump file itself). */
  localDiskPeakBytes: number;
  /** Bytes the process tree wrote to any file system (getrusage); null without GNU time. */
  diskWrittenBytes: number | null;
  /** CPU seconds of the contender's process tree (Node and the tools; not the database server, not the S3 server). */
  cpuSeconds: number | null;
  /** Average cores busy on the whole machine while it ran (of `machine.cpus`): everything, database and S3 server included. */
  machineCoresBusy: number;
  /** Bytes left in the store: S3 objects, or the local dump for the local baselines; null for restores and listings. */
  storedBytes: number | null;
  phases: { name: string; ms: number }[];
  details: Record<string, unknown>;
}

/** One size of the media-scale group: its bucket, how it was seeded, what the unchanged incrementals wrote. */
export interface MediaScaleRun {
  objects: number;
  bytes: number;
  /** Writing the objects straight into s3rver's storage (see media-scale.ts). */
  seedMs: number;
  /** Objects read back through the API (GET and HEAD) after seeding, and after the restore. */
  verifiedAfterSeed: number;
  verifiedAfterRestore: number;
  changedObjects: number;
  /** Per unchanged incremental: objects the backup bucket's storage shows written during the run. */
  unchangedWrites: WrittenSince[];
}

export interface MediaScaleInfo {
  runs: MediaScaleRun[];
  /** Per operation: cost per object and the linear model at `modelObjects`. */
  model: ScaleModel[];
  modelObjects: number;
}

export interface TargetResult {
  id: string;
  target: string;
  measured: string;
  pass: boolean | null;
}

export interface BenchResults {
  format: 'lifeboat-bench/1';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  command: string;
  params: Record<string, unknown>;
  machine: Record<string, unknown>;
  dataset: {
    database: { bytes: number; tableBytes: number; tables: { name: string; rows: number; bytes: number }[]; generationMs: number; rawDumpBytes: number };
    media: { objects: number; bytes: number; largeObjects: number; changedObjects: number; seedMs: number } | null;
    mediaScale: MediaScaleInfo | null;
    catalog: { backups: number; seedMs: number } | null;
  };
  measurements: Measurement[];
  targets: TargetResult[];
  /** Sanity checks of the run itself (counts, sizes); all must hold. */
  checks: { name: string; ok: boolean; detail: string }[];
}

export function mib(bytes: number | null | undefined, digits = 1): string {
  if (bytes === null || bytes === undefined) return '—';
  if (bytes === 0) return '0';
  if (bytes < 1024 * 1024) return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
  const value = bytes / 1024 / 1024;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(digits)} MiB`;
}

export function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function throughput(m: Measurement): string {
  if (!m.throughput) return '—';
  const v = m.throughput.value;
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${m.throughput.unit}`;
}

const GROUP_TITLES: Record<Measurement['group'], string> = {
  backup: 'Backup',
  'parallel-dump': 'Parallel dump (large databases)',
  restore: 'Restore',
  media: 'Media',
  'media-scale': 'Media at scale (many small uploads)',
  catalog: 'List and prune',
  diagnostics: 'Diagnostics (where the time and memory go)',
};

export function measurementsTable(results: BenchResults): string {
  const lines = [
    '| | Contender | Wall time | Throughput | Ratio to baseline | Peak RSS: Node | Peak RSS: tools | CPU | Local disk | Stored |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  let group: string | undefined;
  for (const m of results.measurements) {
    const title = group === m.group ? '' : `**${GROUP_TITLES[m.group]}**`;
    group = m.group;
    const runs = m.runsMs.length > 1 ? ` (median of ${m.runsMs.length})` : '';
    const ratio = m.ratio === null ? '—' : `${m.ratio.toFixed(2)} × ${m.baseline ? `\`${shortName(results, m.baseline)}\`` : ''}`;
    const tools = Object.entries(m.toolPeaks)
      .map(([name, bytes]) => `${name} ${mib(bytes, 0)}`)
      .join(', ');
    lines.push(
      `| ${title} | ${m.name.replace(/\|/g, '\\|')} | ${seconds(m.wallMs)}${runs} | ${throughput(m)} | ${ratio} | ${m.nodePeakRssBytes === null ? '—' : mib(m.nodePeakRssBytes, 0)} | ${tools || '—'} | ${m.cpuSeconds === null ? '—' : `${m.cpuSeconds.toFixed(1)} s`} | ${mib(m.localDiskPeakBytes)} | ${mib(m.storedBytes)} |`,
    );
  }
  return lines.join('\n');
}

function shortName(results: BenchResults, id: string): string {
  return results.measurements.find((m) => m.id === id)?.details.short as string | undefined ?? id;
}

export function targetsTable(results: BenchResults): string {
  const lines = ['| Target | Measured | Result |', '|---|---|---|'];
  for (const t of results.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.pass === null ? 'not measured' : t.pass ? '**pass**' : '**FAIL**'} |`);
  return lines.join('\n');
}

export function scaleModelTable(scale: MediaScaleInfo): string {
  const n = scale.modelObjects.toLocaleString('en-US');
  const lines = [
    `| Operation | Measured (objects: time, peak RSS) | Time per object | Peak RSS per object | Model at ${n}: time | Model at ${n}: peak RSS | Basis |`,
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const row of scale.model) {
    const at = row.at.map((p) => `${p.objects.toLocaleString('en-US')}: ${seconds(p.wallMs)}, ${mib(p.nodePeakRssBytes, 0)}`).join('; ');
    lines.push(
      `| ${row.operation} | ${at} | ${(row.msPerObject * 1000).toFixed(0)} µs | ${(row.rssBytesPerObject / 1024).toFixed(2)} KiB | ${seconds(row.modelWallMs)} | ${mib(row.modelRssBytes, 0)} | ${row.basis} |`,
    );
  }
  return lines.join('\n');
}

export function markdownReport(results: BenchResults): string {
  const db = results.dataset.database;
  const media = results.dataset.media;
  const scale = results.dataset.mediaScale;
  const m = results.machine as { cpuModel: string; cpus: number; memoryBytes: number; os: string; node: string; postgres: string; pgDump: string };
  const out = [
    `## Lifeboat benchmark, ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${mib(m.memoryBytes, 0)} RAM, ${m.os}; Node ${m.node}; ${m.postgres}; ${m.pgDump}. ` +
      `S3 is s3rver on loopback, writing to the same disk. Whole run: ${seconds(results.durationMs)}.`,
    '',
    `Database: ${mib(db.tableBytes)} of tables and indexes (${db.tables.map((t) => `${t.name} ${t.rows.toLocaleString('en-US')} rows`).join(', ')}); ` +
      `${mib(db.rawDumpBytes)} as an uncompressed custom-format dump (the throughput basis). Generated in ${seconds(db.generationMs)}.`,
  ];
  if (media) {
    out.push(
      '',
      `Media: ${media.objects.toLocaleString('en-US')} objects, ${mib(media.bytes)} (${media.largeObjects} of them 12–40 MiB); ${media.changedObjects} changed for the 1% run.`,
    );
  }
  if (scale) {
    for (const run of scale.runs) {
      out.push(
        '',
        `Media at scale: ${run.objects.toLocaleString('en-US')} objects of 200 B–2 KiB, ${mib(run.bytes)}, written into s3rver's storage in ${seconds(run.seedMs)} ` +
          `(${Math.round(run.objects / (run.seedMs / 1000)).toLocaleString('en-US')} objects/s); ${run.verifiedAfterSeed} read back through the API; ` +
          `${run.changedObjects} rewritten for the prune's garbage.`,
      );
    }
  }
  out.push('', measurementsTable(results));
  if (scale) out.push('', '### Media at scale: cost per object and the model', '', scaleModelTable(scale));
  out.push('', '### Targets', '', targetsTable(results));
  const failed = results.checks.filter((c) => !c.ok);
  out.push('', failed.length ? `Sanity checks FAILED: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}` : `All ${results.checks.length} sanity checks hold.`);
  return out.join('\n') + '\n';
}
