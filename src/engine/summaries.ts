/**
 * Markdown for job summaries. Pure functions of results (and of `now`, for ages), so the action entry
 * points only hand the text to the toolkit, and the tests render them as GitHub does.
 *
 * Written for the person on call, on any screen: the status (✅/❌) and the age come first, in a line;
 * a failure's cause and fix are plain text in a CAUTION alert; everything else folds into <details>.
 * Tables keep to a few narrow columns so they fit GitHub's 1012 px content width
 * (test/integration/summaries-browser.test.ts checks that in Chromium).
 *
 * "Size" is one thing everywhere (log, summary, list, the backup's `size` output): the bytes stored
 * under the backup's own prefix, which are its database archive and its manifest. Media content is
 * shared between backups, so it is reported on its own: objects and bytes the backup refers to, and
 * what it newly stored.
 */
import type { BackupEntry } from '../domain/catalog.js';
import type { Manifest, MediaRecord } from '../domain/manifest.js';
import type { SignatureStatus } from '../domain/sealing.js';
import {
  alertBlock,
  escapeMarkdown,
  explainFailureMessage,
  failureMarkdown,
  foldable,
  formatAge,
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  formatUtc,
  markdownTable,
  plural,
  type FailureExplanation,
} from '../domain/report.js';
import type { BackupDetails } from './list/list.js';
import type { BackupResult } from './backup/backup.js';
import type { RestoreResult } from './restore/restore.js';
import type { PruneResult } from './prune/prune.js';

const OK = '✅';
const FAILED = '❌';

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
const count = formatCount;

/** The media a backup refers to, and what it stored anew: one line. */
function mediaLine(media: MediaRecord): string {
  const t = media.totals;
  return (
    `Media: ${plural(t.objects, 'object')} (${formatBytes(t.bytes)}) in ${code(`s3://${media.bucket}/${media.prefix}`)}; ` +
    `${count(t.newObjects)} new (${formatBytes(t.newBytes)}) stored, ${count(t.reusedObjects)} reused (${formatBytes(t.reusedBytes)}). Not part of the size: media content is shared between backups.`
  );
}

/** How a backup is protected: encryption and signature (docs/encryption.md). */
function protectionLine(m: Manifest, checked?: SignatureStatus): string {
  const encryption = m.encryption
    ? `Encrypted (age) to ${plural(m.encryption.recipients.length, 'recipient')}: ${m.encryption.recipients.map((r) => code(r)).join(', ')}`
    : 'Not encrypted';
  const signature = !m.signature
    ? 'not signed'
    : checked?.kind === 'verified'
      ? `signed by trusted key ${code(m.signature.keyId)}, signature checked`
      : checked
        ? `signed by key ${code(m.signature.keyId)}, not a trusted key, so not checked`
        : `signed by key ${code(m.signature.keyId)}`;
  return `${encryption}; ${signature}`;
}

export function backupSummary(result: BackupResult, now = new Date()): string {
  const m = result.manifest;
  const finished = new Date(m.finishedAt);
  const raw = m.artifacts.reduce((sum, a) => sum + a.uncompressedSize, 0);
  const lines = [
    `## ${OK} Lifeboat backup of ${m.space}: complete`,
    '',
    `**${code(m.id)}** · ${formatBytes(result.storedBytes)} · finished ${formatAge(finished, now)} (${formatUtc(finished)}) · ${m.trigger}`,
    '',
    `- Database: ${m.database.source}, PostgreSQL ${m.database.serverVersion}, pg_dump ${m.database.pgDumpVersion}`,
  ];
  if (m.database.tables) {
    const rows = m.database.tables.reduce((sum, t) => sum + t.rows, 0);
    lines.push(`- Row counts: ${plural(m.database.tables.length, 'table')}, ${plural(rows, 'row')}, recorded for restore to check against`);
  } else {
    lines.push('- Row counts: not recorded, so a restore of this backup cannot be checked against it');
  }
  if (m.media) lines.push(`- ${mediaLine(m.media)}`);
  lines.push(`- ${protectionLine(m)}`);
  if (result.objectLock) {
    lines.push(`- S3 Object Lock (${result.objectLock.mode}): nobody can delete or overwrite it, or the media content it uses, until ${formatUtc(result.objectLock.retainUntil)}`);
  }
  lines.push(`- Took ${formatDuration(result.durationMs)} (${formatRate(raw, result.durationMs)} dumped)`);
  lines.push(
    '',
    foldable(
      'Where it is stored, and its artifacts',
      [
        `Stored at ${code(result.location)}. Size: the artifacts and the manifest, ${count(result.storedBytes)} bytes.`,
        '',
        markdownTable(
          ['Artifact', 'Stored', 'Uncompressed', 'SHA-256'],
          m.artifacts.map((a) => [`${a.name} (${a.compression})`, formatBytes(a.size), formatBytes(a.uncompressedSize), code(`${a.sha256.slice(0, 16)}…`)]),
        ),
      ].join('\n'),
    ),
  );
  return lines.join('\n') + '\n';
}

export interface ListSummaryInput {
  backups: readonly BackupEntry[];
  /** Each space's newest restorable backup (ListResult.latestPerSpace). */
  latestPerSpace: readonly BackupEntry[];
  filterText: string;
  details?: Map<string, BackupDetails>;
}

export function listSummary(input: ListSummaryInput, now = new Date()): string {
  const { backups, latestPerSpace, filterText, details } = input;
  const complete = backups.filter((b) => b.status === 'complete');
  const incomplete = backups.filter((b) => b.status === 'incomplete');
  const invalid = backups.filter((b) => b.status === 'invalid');
  const spaces = [...new Set(backups.map((b) => b.space))].sort();
  const scope = filterText ? ` (${filterText})` : '';
  const lines: string[] = [];
  if (latestPerSpace.length === 0) {
    lines.push(`## ${FAILED} Lifeboat backups${scope}: nothing restorable`, '');
    lines.push(backups.length ? `None of the ${plural(backups.length, 'backup')} found can be restored.` : 'The bucket holds no backup that matches.');
  } else {
    lines.push(`## ${OK} Lifeboat backups${scope}: ${plural(complete.length, 'restorable backup')}`, '');
    // The first thing anyone needs: what each space would restore from, and how old it is.
    const latestOf = new Map(latestPerSpace.map((b) => [b.space, b]));
    lines.push(
      markdownTable(
        ['Space', 'Latest restorable', 'Age', 'Size'],
        spaces.map((space) => {
          const b = latestOf.get(space);
          return b ? [space, code(b.id), formatAge(b.createdAt, now), formatBytes(b.sizeBytes)] : [space, `${FAILED} none`, '—', '—'];
        }),
      ),
    );
  }
  if (invalid.length) {
    lines.push(
      '',
      alertBlock('WARNING', [
        `${plural(invalid.length, 'backup has', 'backups have')} a manifest that is corrupt, does not match the schema or describes another backup: not restorable, and \`latest\` skips ${invalid.length === 1 ? 'it' : 'them'}.`,
      ]),
      '',
      foldable(`Invalid backups (${invalid.length})`, markdownTable(['Backup', 'Space', 'Problem'], invalid.map((b) => [code(b.id), b.space, b.problem ?? '']))),
    );
  }
  const row = (b: BackupEntry) => [code(b.id), b.space, formatAge(b.createdAt, now), formatBytes(b.sizeBytes)];
  if (complete.length) {
    lines.push('', foldable(`All restorable backups (${complete.length}), newest first`, markdownTable(['Backup', 'Space', 'Age', 'Size'], complete.map(row))));
  }
  if (details && complete.length) {
    const detailRow = (b: BackupEntry) => {
      const d = details.get(b.id);
      if (!d) return [code(b.id), '', '', ''];
      if (d.error) return [code(b.id), `manifest unreadable: ${d.error}`, '', ''];
      const m = d.media;
      return [
        code(b.id),
        `${formatBytes(d.databaseBytes)}${d.tables === null ? '' : `, ${plural(d.tables, 'table')}`}`,
        m ? `${count(m.objects)} (${formatBytes(m.bytes)})` : '—',
        m ? `${count(m.newObjects)} (${formatBytes(m.newBytes)})` : '—',
      ];
    };
    lines.push(
      '',
      foldable(
        'Database and media of each restorable backup',
        markdownTable(['Backup', 'Database, uncompressed', 'Media objects', 'Media stored anew'], complete.map(detailRow)),
      ),
    );
  }
  if (incomplete.length) {
    lines.push(
      '',
      foldable(
        `Incomplete, not restorable (${incomplete.length}): failed, interrupted or still running`,
        markdownTable(['Backup', 'Space', 'Age', 'Size'], incomplete.map(row)),
      ),
    );
  }
  lines.push('', `Size: the bytes stored under each backup's own prefix (database archive and manifest); media is counted apart.`);
  return lines.join('\n') + '\n';
}

/** Rows shown in a prune summary before the table is cut short; GitHub caps a job summary at 1 MiB. */
const PRUNE_SUMMARY_ROWS = 1000;

export function pruneSummary(result: PruneResult): string {
  const { plan } = result;
  const removed = result.dryRun ? plan.remove.length : result.deleted.length;
  const failedCount = result.failed.length;
  const status = failedCount ? FAILED : OK;
  const what = result.dryRun
    ? `dry run, ${plural(removed, 'backup')} would be deleted`
    : failedCount
      ? `${plural(failedCount, 'backup')} could not be deleted`
      : `${plural(removed, 'backup')} deleted`;
  const lines = [
    `## ${status} Lifeboat prune: ${what}, ${count(plan.keep.length)} kept`,
    '',
    `${result.space ? `Space ${result.space}` : 'Every space'} · rules from ${result.policySource} · ${formatUtc(result.now)} · took ${formatDuration(result.durationMs)}`,
  ];
  if (failedCount) {
    lines.push(
      '',
      failureMarkdown({
        reasons: [
          {
            cause: `${plural(failedCount, 'backup')} of the ${plan.remove.length} planned for deletion could not be deleted fully: ${result.failed
              .slice(0, 3)
              .map((f) => `${f.entry.space}/${f.entry.id}: ${f.message}`)
              .join('; ')}${failedCount > 3 ? '; …' : ''}`,
            fix: 'Check that the credentials allow s3:DeleteObject, then run prune again to finish. Every backup is still either complete or clearly incomplete.',
          },
        ],
      }),
    );
  }
  if (!result.dryRun) {
    lines.push('', `- Freed ${formatBytes(result.bytesFreed)}: ${plural(result.objectsDeleted, 'object')} in ${plural(result.deleteRequests, 'delete request')}`);
  }
  if (plan.rescued.length) {
    lines.push(
      '',
      alertBlock(
        'WARNING',
        plan.rescued.map(
          ({ entry }) => `Space ${entry.space}: the rules would delete every complete backup; only the newest, ${code(entry.id)}, is kept. Have its backups stopped?`,
        ),
      ),
    );
  }
  if (result.locked?.length) {
    // Also in the table, as kept with the reason; here so nobody wonders why the rules were not applied.
    lines.push(
      '',
      `- Held by S3 Object Lock: ${plural(result.locked.length, 'backup')} the rules would delete, kept whole until deletable: ${result.locked
        .slice(0, 5)
        .map(({ entry, lock }) => `${code(`${entry.space}/${entry.id}`)} at ${formatUtc(lock.retainUntil)}`)
        .join(', ')}${result.locked.length > 5 ? ', …' : ''}`,
    );
  }
  const uploads = result.uploads;
  if (uploads && (uploads.open > 0 || uploads.skipped)) {
    lines.push(
      '',
      uploads.skipped
        ? `- Open multipart uploads not swept: ${uploads.skipped}`
        : `- Open multipart uploads: ${count(uploads.open)}; ${count(uploads.aborted.length)} older than the grace period ${result.dryRun ? 'would be' : 'were'} aborted, ${count(uploads.tooYoung)} younger kept${uploads.failed.length ? `, ${count(uploads.failed.length)} failed` : ''}`,
    );
  }
  const media = result.media;
  if (media) {
    lines.push(
      '',
      media.skipped
        ? `- Media content not cleaned up: ${media.skipped}`
        : `- Media content: ${count(media.stored)} stored, ${count(media.referenced)} in use by kept backups, ${count(media.deleted)} unreferenced ${result.dryRun ? 'would be' : 'were'} deleted (${formatBytes(media.bytesFreed)}), ${count(media.tooYoung)} unreferenced but too young${media.locked ? `, ${count(media.locked)} unreferenced but still locked` : ''}`,
    );
  }
  const failed = new Map(result.failed.map((f) => [f.entry, f.message]));
  const rows = [
    ...plan.keep.map((k) => ({ entry: k.entry, decision: 'keep', why: k.reasons.join('; ') })),
    ...plan.remove.map((r) => ({
      entry: r.entry,
      decision: failed.has(r.entry) ? `${FAILED} delete failed` : result.dryRun ? 'would delete' : 'deleted',
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
    const shown = rows.slice(0, PRUNE_SUMMARY_ROWS);
    const table = markdownTable(
      ['Backup', 'Space', 'Decision', 'Why'],
      shown.map((r) => [code(r.entry.id), r.entry.space, r.entry.status === 'complete' ? r.decision : `${r.decision} (${r.entry.status})`, r.why]),
    );
    const more = rows.length > shown.length ? `\n\n… and ${rows.length - shown.length} more backups; the step log has the whole plan.` : '';
    lines.push(foldable(`Every backup and its decision (${rows.length})`, table + more));
  }
  return lines.join('\n') + '\n';
}

/** How many per-table rows the restore summary shows before it only counts the rest. */
const RESTORE_TABLE_ROWS = 200;

export function restoreSummary(result: RestoreResult, now = new Date()): string {
  const m = result.manifest;
  const a = result.authorization;
  const taken = new Date(m.startedAt);
  const who =
    a.kind === 'automated'
      ? `automated (${a.eventName ?? 'machine-started'})`
      : `manual, by ${a.actor ?? 'unknown'}${a.adminTeam ? ` (member of ${a.adminTeam})` : ''}`;
  const method =
    result.method === 'transactional'
      ? 'one transaction streamed from the bucket (wipe, restore and check committed together)'
      : `pg_restore --jobs=${result.jobs}, after the pre-restore backup ${code(result.preRestoreBackupId ?? '')}`;
  const database = m.artifacts.find((artifact) => artifact.name === 'database') ?? m.artifacts[0];
  const checks = result.checks;
  const matched = checks ? checks.filter((c) => c.expected === c.found).length : 0;
  const rows = checks ? checks.reduce((sum, c) => sum + (c.found ?? 0), 0) : 0;
  const lines = [
    `## ${OK} Lifeboat restore: ${result.targetSpace} now holds ${result.sourceSpace}'s backup from ${formatAge(taken, now)}`,
    '',
    `**${code(m.id)}** · taken ${formatUtc(taken)} · ${m.trigger}${database ? ` · ${formatBytes(database.size)}` : ''} · restored into ${result.target} in ${formatDuration(result.durationMs)}`,
    '',
    checks
      ? `- Verified: ${matched} of ${plural(checks.length, 'table')} match the backup's row counts (${plural(rows, 'row')})`
      : `- **Not verified:** the backup recorded no row counts, so the restored data could not be compared with it`,
    `- Checked before the target was touched: every artifact's size and SHA-256, and pg_restore ${result.pgRestoreVersion} read its table of contents`,
    `- Method: ${method}`,
    `- ${protectionLine(m, result.signature)}`,
    `- Started: ${who}; rule ${a.rule.from} → ${a.rule.to} (${a.rule.purpose || 'no purpose given'})`,
    result.privileges === 'keep'
      ? `- Privileges: keep. Every object is owned by the target's role; grants were restored for the roles the target has`
      : `- Privileges: drop. Every object is owned by the target's role, with no grants from the backup`,
  ];
  if (result.media && m.media) {
    const r = result.media;
    lines.push(
      `- Media: ${code(`s3://${r.bucket}`)} now holds the backup's ${plural(m.media.totals.objects, 'object')} (${formatBytes(m.media.totals.bytes)}): ` +
        `${count(r.uploaded)} copied (${formatBytes(r.traffic.bytesWritten)}, SHA-256 checked), ${count(r.unchanged)} already right, ${count(r.deleted)} deleted that the backup did not have`,
    );
  }
  if (result.skippedGrantCount > 0) {
    lines.push(
      '',
      alertBlock('WARNING', [`${plural(result.skippedGrantCount, 'grant was', 'grants were')} skipped: the target lacks their roles. The list below names them.`]),
    );
    const shown = result.skippedGrants.slice(0, RESTORE_TABLE_ROWS);
    const more = result.skippedGrantCount > shown.length ? `\n\n… and ${result.skippedGrantCount - shown.length} more.` : '';
    lines.push(
      '',
      foldable(
        `Skipped grants (${result.skippedGrantCount})`,
        markdownTable(['Object', 'Statement', 'Why'], shown.map((g) => [escapeMarkdown(g.entry), escapeMarkdown(g.statement), escapeMarkdown(g.reason)])) + more,
      ),
    );
  }
  if (checks) {
    const shown = checks.slice(0, RESTORE_TABLE_ROWS);
    const more = checks.length > shown.length ? `\n\n… and ${checks.length - shown.length} more tables.` : '';
    lines.push(
      '',
      foldable(
        `Row counts per table (${checks.length})`,
        markdownTable(
          ['Table', 'In backup', 'Restored', 'Match'],
          shown.map((c) => [`${c.schema}.${c.table}`, c.expected === null ? '—' : count(c.expected), c.found === null ? '—' : count(c.found), c.expected === c.found ? OK : FAILED]),
        ) + more,
      ),
    );
  }
  return lines.join('\n') + '\n';
}

export type ActionName = 'backup' | 'restore' | 'list' | 'prune' | 'check' | 'drill' | 'copy';

/** What a failed action was asked to do, for the first lines of its summary. */
export interface FailedRun {
  action: ActionName;
  /** Short: "production", "production → staging", "every space". */
  subject?: string;
  /** Refused (nothing was touched) rather than failed. */
  refused?: boolean;
  /** Extra facts, each shown as one line item (plain text). */
  facts?: string[];
  /** The work already wrote a summary that shows the failure (prune's deletions that failed). */
  summarized?: boolean;
}

/**
 * The summary of a failed or refused action: ❌, what was asked and when, then the cause and the fix
 * as plain text in a CAUTION alert, and the full message folded.
 */
export function failureSummary(run: FailedRun, explanation: FailureExplanation, now = new Date()): string {
  const subject = run.subject ? ` ${run.subject}` : '';
  const lines = [`## ${FAILED} Lifeboat ${run.action}${subject}: ${run.refused ? 'refused' : 'failed'}`, '', `${run.refused ? 'Refused' : 'Failed'} at ${formatUtc(now)}.`];
  if (run.facts?.length) lines.push('', ...run.facts.map((fact) => `- ${escapeMarkdown(fact)}`));
  lines.push('', failureMarkdown(explanation));
  return lines.join('\n') + '\n';
}

/** The explanation of an error: the structured reasons of a refusal, or the cause and fix read from its message. */
export function explainError(error: unknown, message: string): FailureExplanation {
  const reasons = (error as { reasons?: unknown } | null)?.reasons;
  if (Array.isArray(reasons) && reasons.length && reasons.every((r) => typeof r?.reason === 'string' && typeof r?.fix === 'string')) {
    return { reasons: (reasons as { reason: string; fix: string }[]).map((r) => ({ cause: r.reason, fix: r.fix })) };
  }
  return explainFailureMessage(message);
}
