/** The drill's job summary: the verdict and the measured RTO first. */
import { alertBlock, escapeMarkdown, foldable, formatBytes, formatDuration, markdownTable, plural } from '../../domain/report.js';
import type { DrillResult } from './drill.js';

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

export function drillSummary(result: DrillResult): string {
  const verdict = result.ok ? `## ✅ Lifeboat drill of ${result.space}: the backup restores` : `## ❌ Lifeboat drill of ${result.space} failed: ${plural(result.problems.length, 'problem')}`;
  const lines = [
    verdict,
    '',
    `**RTO ${formatDuration(result.rtoMs)}** to restore ${code(result.backupId)} (${result.trigger}, finished ${result.backupFinishedAt}) into ${result.scratch ? 'the scratch database' : 'the given database'} ${code(result.database)}, verified.`,
  ];
  if (!result.ok) lines.push('', alertBlock('CAUTION', result.problems.map(escapeMarkdown)));
  const items = [
    `- Stored bytes verified against the manifest (size and SHA-256), then restored in one transaction (${result.restore.method}).`,
    result.tablesChecked === null ? '- Row counts: none recorded in the backup.' : `- Row counts of ${plural(result.tablesChecked, 'table')} match the backup.`,
    result.assertions.length
      ? `- Assertions: ${result.assertions.filter((a) => a.ok).length} of ${result.assertions.length} hold.`
      : '- Assertions: none given.',
    result.media
      ? `- Media: ${result.media.sampled} of ${result.media.objects} objects' content read and hashed (${formatBytes(result.media.bytes)})${result.media.mismatched ? `, ${result.media.mismatched} do not match` : ', all match'}.`
      : '- Media: the backup holds none.',
    `- ${result.scratch ? 'Scratch database dropped' : 'Given database emptied'}: ${result.cleanedUp ? 'yes' : 'NO (see the log)'}.${result.droppedLeftovers.length ? ` Also dropped, left by killed drills: ${result.droppedLeftovers.map(code).join(', ')}.` : ''}`,
    `- Whole drill: ${formatDuration(result.durationMs)}.`,
  ];
  lines.push('', ...items);
  if (result.assertions.length) {
    lines.push(
      '',
      foldable(
        'Assertions',
        markdownTable(
          ['', 'Assertion', 'Line', 'Result'],
          result.assertions.map((a) => [a.ok ? '✅' : '❌', escapeMarkdown(a.name), String(a.line), a.ok ? `holds (${formatDuration(a.durationMs)})` : escapeMarkdown(a.why ?? '')]),
        ),
      ),
    );
  }
  return lines.join('\n') + '\n';
}
