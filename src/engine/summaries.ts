/**
 * Markdown for job summaries (and the CLI's report). Pure functions of results, so the action
 * entry points only hand the text to the toolkit.
 */
import type { BackupEntry } from '../domain/catalog.js';
import type { BackupResult } from './backup.js';
import { formatBytes, formatRate } from './streams.js';

const cell = (value: string) => value.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const table = (header: string[], rows: string[][]) =>
  [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');

export function backupSummary(result: BackupResult): string {
  const m = result.manifest;
  const raw = m.artifacts.reduce((sum, a) => sum + a.uncompressedSize, 0);
  const lines = [
    `## Lifeboat backup \`${m.id}\``,
    '',
    table(
      ['Space', 'Trigger', 'Database', 'Server', 'pg_dump', 'Duration', 'Throughput', 'Stored'],
      [[
        m.space,
        m.trigger,
        m.database.source,
        m.database.serverVersion,
        m.database.pgDumpVersion,
        `${(result.durationMs / 1000).toFixed(1)} s`,
        formatRate(raw, result.durationMs),
        formatBytes(result.storedBytes),
      ]],
    ),
    '',
    table(
      ['Artifact', 'Compression', 'Size before compression', 'Size stored', 'SHA-256'],
      m.artifacts.map((a) => [a.name, a.compression, formatBytes(a.uncompressedSize), formatBytes(a.size), `\`${a.sha256.slice(0, 16)}…\``]),
    ),
  ];
  if (m.database.tables) {
    const rows = m.database.tables.reduce((sum, t) => sum + t.rows, 0);
    lines.push('', `Row counts recorded for ${m.database.tables.length} tables (${rows} rows) in the dump's snapshot.`);
  }
  lines.push('', `Stored at \`${result.location}\`.`);
  return lines.join('\n') + '\n';
}

export function listSummary(backups: readonly BackupEntry[], latest: BackupEntry | undefined, filterText: string): string {
  const complete = backups.filter((b) => b.status === 'complete');
  const incomplete = backups.filter((b) => b.status === 'incomplete');
  const row = (b: BackupEntry) => [`\`${b.id}\``, b.space, b.trigger, b.createdAt.toISOString(), formatBytes(b.sizeBytes)];
  const lines = [`## Lifeboat backups${filterText ? ` (${filterText})` : ''}`, ''];
  lines.push(latest ? `Latest restorable: \`${latest.id}\`` : 'No restorable backup matches.', '');
  lines.push(`### Restorable (${complete.length})`, '');
  lines.push(complete.length ? table(['Backup', 'Space', 'Trigger', 'Created (UTC)', 'Size'], complete.map(row)) : '_None._');
  if (incomplete.length) {
    lines.push(
      '',
      `### Incomplete, not restorable (${incomplete.length})`,
      '',
      'These have no manifest: they failed, were interrupted or are still running.',
      '',
      table(['Backup', 'Space', 'Trigger', 'Created (UTC)', 'Size'], incomplete.map(row)),
    );
  }
  return lines.join('\n') + '\n';
}
