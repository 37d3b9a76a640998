/** The check's job summary: the status first, then what failed, then the evidence, folded. */
import { alertBlock, escapeMarkdown, foldable, formatBytes, formatDuration, markdownTable, plural } from '../../domain/report.js';
import type { CheckResult } from './check.js';

const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;

export function checkSummary(result: CheckResult): string {
  const lines: string[] = [];
  if (result.ok) {
    lines.push(`## ✅ Lifeboat check: backups are as the policy expects`);
  } else {
    lines.push(`## ❌ Lifeboat check failed: ${plural(result.problems.length, 'problem')}`);
  }
  const verifiedArtifacts = result.verified.reduce((sum, v) => sum + v.artifacts, 0);
  const verifiedBytes = result.verified.reduce((sum, v) => sum + v.bytes, 0);
  lines.push(
    '',
    `Checked ${code(result.location)} at ${result.now.toISOString()}: ${plural(result.findings.filter((f) => !f.skipped).length, 'rule')}, ` +
      `${plural(verifiedArtifacts, 'artifact')} (${formatBytes(verifiedBytes)}) read and hashed${result.warnings.length ? `, ${plural(result.warnings.length, 'warning')}` : ''}.`,
  );
  if (!result.ok) lines.push('', alertBlock('CAUTION', result.problems.map(escapeMarkdown)));
  if (result.warnings.length) lines.push('', alertBlock('WARNING', result.warnings.map(escapeMarkdown)));
  if (result.staleKeys?.length) {
    lines.push(
      '',
      alertBlock('WARNING', [
        `${plural(result.staleKeys.length, 'Lifeboat service key')} older than a day: ${result.staleKeys.map((k) => `${k.name} on ${k.instance}`).join(', ')}. ` +
          'A run that crashed left them; the next prune deletes them, or delete them with cf delete-service-key.',
      ]),
    );
  }
  if (result.findings.length) {
    lines.push(
      '',
      markdownTable(
        ['', 'Space', 'Trigger', 'Rule', 'Finding'],
        result.findings.map((f) => [
          f.skipped ? '➖' : f.ok ? '✅' : '❌',
          f.rule.space,
          f.rule.trigger,
          f.kind === 'age' ? `at most ${f.rule.maxAge}` : 'deployed commit',
          escapeMarkdown(f.message),
        ]),
      ),
    );
  }
  if (result.verified.length) {
    lines.push(
      '',
      foldable(
        'Stored bytes verified',
        markdownTable(
          ['', 'Space', 'Backup', 'Artifacts', 'Media'],
          result.verified.map((v) => [
            v.problems.length ? '❌' : '✅',
            v.space,
            code(v.id),
            `${v.artifacts} (${formatBytes(v.bytes)})`,
            v.mediaObjects === undefined ? '—' : `${v.mediaObjects} present`,
          ]),
        ),
      ),
    );
  }
  if (result.metrics.length) {
    lines.push(
      '',
      foldable(
        'Metrics per space and trigger',
        markdownTable(
          ['Space', 'Trigger', 'Last good', 'Took', 'Size', 'vs median', 'Counts'],
          result.metrics.map((m) => [
            m.space,
            m.trigger,
            m.last ? `${code(m.last.id)} (${(m.last.ageSeconds / 3600).toFixed(1)} h ago)` : 'none',
            m.last ? formatDuration(m.last.durationSeconds * 1000) : '—',
            m.last ? formatBytes(m.last.sizeBytes) : '—',
            m.trend ? `${m.trend.durationRatio?.toFixed(2) ?? '—'} × time, ${m.trend.sizeRatio?.toFixed(2) ?? '—'} × size${m.trend.slow ? ' ⚠️ slow' : ''}` : 'not enough history',
            `${m.counts.complete} complete, ${m.counts.incomplete} incomplete, ${m.counts.invalid} invalid`,
          ]),
        ),
      ),
    );
  }
  return lines.join('\n') + '\n';
}
