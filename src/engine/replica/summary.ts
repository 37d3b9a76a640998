/** The copy's job summary. */
import { formatBytes } from '../streams.js';
import type { CopyResult } from './copy.js';

export function copySummary(result: CopyResult): string {
  const copied = result.backups.filter((b) => b.state === 'copied');
  const present = result.backups.filter((b) => b.state === 'present');
  const lines = [
    `## ✅ Lifeboat copy: ${copied.length} backup(s) copied to the replica`,
    '',
    `From \`${result.primary}\` to \`${result.replica}\` in ${(result.durationMs / 1000).toFixed(1)} s.`,
    '',
    `- Copied now: ${copied.length ? copied.map((b) => `\`${b.space}/${b.id}\``).join(', ') : 'none'}`,
    `- Already complete in the replica: ${present.length}`,
    `- Database artifacts: ${result.artifacts.objects} copied (${formatBytes(result.artifacts.bytes)}; size and SHA-256 checked against the manifest), ${result.artifacts.skipped} already there`,
    `- Media content: ${result.media.objects} copied (${formatBytes(result.media.bytes)}), ${result.media.skipped} already there`,
    `- Each manifest was written last, byte for byte as the backup bucket holds it.`,
  ];
  return lines.join('\n') + '\n';
}
