/**
 * Markdown for job summaries (and the CLI's report). Pure functions of results, so the action
 * entry points only hand the text to the toolkit.
 */
import type { BackupEntry } from '../domain/catalog.js';
import type { MediaRecord } from '../domain/manifest.js';
import type { BackupDetails } from './list/list.js';
import type { BackupResult } from './backup/backup.js';
import type { RestoreResult } from './restore/restore.js';
import type { PruneResult } from './prune/prune.js';
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
  if (m.media) {
    lines.push('', mediaTable(m.media));
  }
  lines.push('', `Stored at \`${result.location}\`.`);
  return lines.join('\n') + '\n';
}

export function listSummary(backups: readonly BackupEntry[], latest: BackupEntry | undefined, filterText: string, details?: Map<string, BackupDetails>): string {
  const complete = backups.filter((b) => b.status === 'complete');
  const incomplete = backups.filter((b) => b.status === 'incomplete');
  const header = ['Backup', 'Space', 'Trigger', 'Created (UTC)', 'Size'];
  const row = (b: BackupEntry) => [`\`${b.id}\``, b.space, b.trigger, b.createdAt.toISOString(), formatBytes(b.sizeBytes)];
  const detailHeader = ['Database (uncompressed)', 'Media objects', 'Media bytes', 'Media new', 'Media reused'];
  const detailRow = (b: BackupEntry) => {
    const d = details?.get(b.id);
    if (!d) return ['', '', '', '', ''];
    if (d.error) return [`manifest unreadable: ${d.error}`, '', '', '', ''];
    const m = d.media;
    return [
      formatBytes(d.databaseBytes),
      m ? String(m.objects) : '—',
      m ? formatBytes(m.bytes) : '—',
      m ? `${m.newObjects} (${formatBytes(m.newBytes)})` : '—',
      m ? `${m.reusedObjects} (${formatBytes(m.reusedBytes)})` : '—',
    ];
  };
  const lines = [`## Lifeboat backups${filterText ? ` (${filterText})` : ''}`, ''];
  lines.push(latest ? `Latest restorable: \`${latest.id}\`` : 'No restorable backup matches.', '');
  lines.push(`### Restorable (${complete.length})`, '');
  lines.push(
    complete.length
      ? details
        ? table([...header, ...detailHeader], complete.map((b) => [...row(b), ...detailRow(b)]))
        : table(header, complete.map(row))
      : '_None._',
  );
  const invalid = backups.filter((b) => b.status === 'invalid');
  if (invalid.length) {
    lines.push(
      '',
      `### Invalid manifest, not restorable (${invalid.length})`,
      '',
      'Their manifest exists but is corrupt, does not match the schema, or describes another backup; `latest` skips them.',
      '',
      table([...header, 'Problem'], invalid.map((b) => [...row(b), b.problem ?? ''])),
    );
  }
  if (incomplete.length) {
    lines.push(
      '',
      `### Incomplete, not restorable (${incomplete.length})`,
      '',
      'These have no manifest: they failed, were interrupted or are still running.',
      '',
      table(header, incomplete.map(row)),
    );
  }
  return lines.join('\n') + '\n';
}

/** Rows shown in a prune summary before the table is cut short; GitHub caps a job summary at 1 MiB. */
const PRUNE_SUMMARY_ROWS = 1000;

export function pruneSummary(result: PruneResult): string {
  const { plan } = result;
  const removed = result.dryRun ? plan.remove.length : result.deleted.length;
  const lines = [
    `## Lifeboat prune${result.dryRun ? ' (dry run: nothing was deleted)' : ''}`,
    '',
    `${result.space ? `Space ${result.space}` : 'Every space'}, rules from ${result.policySource}, now ${result.now.toISOString()}.`,
    '',
    table(
      ['Kept', result.dryRun ? 'Would delete' : 'Deleted', 'Failed', 'Objects deleted', 'Space freed', 'Delete requests', 'Duration'],
      [[
        String(plan.keep.length),
        String(removed),
        String(result.failed.length),
        String(result.objectsDeleted),
        formatBytes(result.bytesFreed),
        String(result.deleteRequests),
        `${(result.durationMs / 1000).toFixed(1)} s`,
      ]],
    ),
  ];
  if (plan.rescued.length) {
    lines.push('', '> [!WARNING]');
    for (const { entry } of plan.rescued) {
      lines.push(`> Space ${entry.space}: the rules would delete every complete backup; only the newest, \`${entry.id}\`, is kept. Have its backups stopped?`);
    }
  }
  const failed = new Map(result.failed.map((f) => [f.entry, f.message]));
  const rows = [
    ...plan.keep.map((k) => ({ entry: k.entry, decision: 'keep', why: k.reasons.join('; ') })),
    ...plan.remove.map((r) => ({
      entry: r.entry,
      decision: failed.has(r.entry) ? 'delete FAILED' : result.dryRun ? 'would delete' : 'deleted',
      why: failed.has(r.entry) ? `${r.reason}; ${failed.get(r.entry)}` : r.reason,
    })),
  ].sort(
    (a, b) =>
      (a.entry.space < b.entry.space ? -1 : a.entry.space > b.entry.space ? 1 : 0) ||
      b.entry.createdAt.getTime() - a.entry.createdAt.getTime() ||
      (a.entry.id < b.entry.id ? 1 : -1),
  );
  lines.push('');
  if (rows.length === 0) lines.push('_No backups found._');
  else {
    lines.push(
      table(
        ['Backup', 'Space', 'Trigger', 'Created (UTC)', 'Status', 'Decision', 'Why'],
        rows
          .slice(0, PRUNE_SUMMARY_ROWS)
          .map((r) => [`\`${r.entry.id}\``, r.entry.space, r.entry.trigger, r.entry.createdAt.toISOString(), r.entry.status, r.decision, r.why]),
      ),
    );
    if (rows.length > PRUNE_SUMMARY_ROWS) lines.push('', `… and ${rows.length - PRUNE_SUMMARY_ROWS} more backups; the step log has the whole plan.`);
  }
  const media = result.media;
  if (media) {
    lines.push('', '### Media content', '');
    if (media.skipped) lines.push(`Not cleaned up: ${media.skipped}`);
    else {
      lines.push(
        table(
          ['Stored', 'In use by kept backups', result.dryRun ? 'Unreferenced, would be deleted' : 'Unreferenced, deleted', 'Bytes freed', 'Unreferenced but too young'],
          [[String(media.stored), String(media.referenced), String(media.deleted), formatBytes(media.bytesFreed), String(media.tooYoung)]],
        ),
      );
    }
  }
  return lines.join('\n') + '\n';
}

/** How many per-table rows the restore summary shows before it only counts the rest. */
const RESTORE_TABLE_ROWS = 200;

export function restoreSummary(result: RestoreResult): string {
  const m = result.manifest;
  const a = result.authorization;
  const who =
    a.kind === 'automated'
      ? `automated (${a.eventName ?? 'machine-started'})`
      : `manual, by ${a.actor ?? 'unknown'}${a.adminTeam ? ` (member of ${a.adminTeam})` : ''}`;
  const method =
    result.method === 'transactional'
      ? 'one transaction, streamed from the bucket (wipe, restore and check commit together)'
      : `pg_restore --jobs=${result.jobs}, after pre-restore backup \`${result.preRestoreBackupId}\``;
  const lines = [
    `## Lifeboat restore: \`${m.id}\` into ${result.targetSpace}`,
    '',
    table(
      ['From space', 'Backup', 'Backup taken (UTC)', 'To space', 'Target database', 'Started', 'Method', 'Duration'],
      [[result.sourceSpace, `\`${m.id}\``, m.startedAt, result.targetSpace, result.target, who, method, `${(result.durationMs / 1000).toFixed(1)} s`]],
    ),
    '',
    `Rule: ${a.rule.from} → ${a.rule.to} (${a.rule.purpose || 'no purpose given'}). Every artifact's size and SHA-256 matched the manifest, and pg_restore ${result.pgRestoreVersion} read its table of contents, before the target was touched.`,
    '',
    result.privileges === 'keep'
      ? `Privileges: **keep**. Every object is owned by the target's role; grants were restored for the roles the target has.`
      : `Privileges: **drop**. Every object is owned by the target's role, with no grants from the backup.`,
    '',
  ];
  if (result.skippedGrantCount > 0) {
    lines.push(
      `### ${result.skippedGrantCount} grant(s) skipped: the target lacks their roles`,
      '',
      table(
        ['Object', 'Statement', 'Why'],
        result.skippedGrants.slice(0, RESTORE_TABLE_ROWS).map((g) => [g.entry, `\`${g.statement.replace(/`/g, "'")}\``, g.reason]),
      ),
      '',
    );
    if (result.skippedGrantCount > RESTORE_TABLE_ROWS) lines.push(`… and ${result.skippedGrantCount - Math.min(RESTORE_TABLE_ROWS, result.skippedGrants.length)} more.`, '');
  }
  if (!result.checks) {
    lines.push('**Not verified:** the backup recorded no row counts, so the restored data could not be compared with it.');
  } else {
    const matched = result.checks.filter((c) => c.expected === c.found).length;
    const rows = result.checks.reduce((sum, c) => sum + (c.found ?? 0), 0);
    lines.push(`### Verification: ${matched} of ${result.checks.length} tables match the backup's row counts (${rows} rows)`, '');
    const shown = result.checks.slice(0, RESTORE_TABLE_ROWS);
    lines.push(
      table(
        ['Table', 'Rows in backup', 'Rows restored', 'Match'],
        shown.map((c) => [`${c.schema}.${c.table}`, String(c.expected ?? '—'), String(c.found ?? '—'), c.expected === c.found ? '✅' : '❌']),
      ),
    );
    if (result.checks.length > shown.length) lines.push('', `… and ${result.checks.length - shown.length} more tables.`);
  }
  if (result.media && m.media) {
    const r = result.media;
    lines.push(
      '',
      `### Media: s3://${r.bucket} now holds the backup's ${m.media.totals.objects} objects (${formatBytes(m.media.totals.bytes)})`,
      '',
      table(['Restored (copied, SHA-256 checked)', 'Already right', 'Deleted (not in the backup)', 'Bytes copied'], [[String(r.uploaded), String(r.unchanged), String(r.deleted), formatBytes(r.traffic.bytesWritten)]]),
    );
  }
  return lines.join('\n') + '\n';
}

/** For a refused or failed restore: what was asked, and why it did not happen. */
export function restoreFailedSummary(request: { sourceSpace?: string; targetSpace?: string; backupId?: string }, message: string): string {
  const what = request.sourceSpace && request.targetSpace ? ` ${request.sourceSpace} → ${request.targetSpace}` : '';
  const refused = message.includes('Restore refused:');
  const lines = [`## Lifeboat restore${what}: ${refused ? 'refused' : 'failed'}`, ''];
  if (request.backupId) lines.push(`Backup asked for: \`${request.backupId}\``, '');
  lines.push('```text', message.replace(/```/g, "'''"), '```');
  return lines.join('\n') + '\n';
}

/** Media counts: what the bucket held, and how much of it this backup had to store. */
export function mediaTable(media: MediaRecord): string {
  const t = media.totals;
  return table(
    ['Media bucket', 'Objects', 'Bytes', 'New objects', 'New bytes', 'Reused objects', 'Reused bytes'],
    [[`s3://${media.bucket}/${media.prefix}`, String(t.objects), formatBytes(t.bytes), String(t.newObjects), formatBytes(t.newBytes), String(t.reusedObjects), formatBytes(t.reusedBytes)]],
  );
}
