#!/usr/bin/env node
/**
 * The lifeboat CLI: the same operations as the actions, for cron, a Cloud Foundry task or a laptop.
 * Every action input is a flag of the same name (--database-url), or an environment variable
 * LIFEBOAT_<NAME> (LIFEBOAT_DATABASE_URL), which keeps secrets out of the process list.
 */
import { parseArgs } from 'node:util';
import { runBackup } from '../engine/backup.js';
import { errorMessage } from '../engine/errors.js';
import { runList, toListOutput } from '../engine/list.js';
import { consoleLogger } from '../engine/logger.js';
import { redact } from '../engine/secrets.js';
import { formatBytes } from '../engine/streams.js';
import { getBackupOptions } from '../actions/backup/inputs.js';
import { describeFilter, getListInputs } from '../actions/list/inputs.js';
import type { InputReader } from '../actions/shared/inputs.js';

const BUCKET_FLAGS = ['backup-bucket', 'backup-prefix', 's3-endpoint', 's3-region', 'aws-access-key-id', 'aws-secret-access-key', 'aws-session-token'];

const COMMANDS: Record<string, { flags: string[]; summary: string }> = {
  backup: {
    summary: 'Dump the database into the backup bucket, with a manifest',
    flags: ['space', 'trigger', 'database-url', 'compression', 'pg-dump-path', 'row-counts', 'progress-interval-seconds', 'part-size-mb', ...BUCKET_FLAGS],
  },
  list: { summary: 'List backups, newest first', flags: ['space', 'trigger', ...BUCKET_FLAGS] },
};

function usage(): string {
  const lines = ['Usage: lifeboat <command> [--flag value ...] [--json]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${c.summary}`, `           flags: ${c.flags.map((f) => '--' + f).join(' ')}`);
  lines.push('', 'Every flag can also be set as an environment variable: --database-url is LIFEBOAT_DATABASE_URL.');
  return lines.join('\n');
}

export function envName(flag: string): string {
  return 'LIFEBOAT_' + flag.toUpperCase().replace(/-/g, '_');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage() + '\n');
    return command ? 0 : 2;
  }
  const spec = COMMANDS[command];
  if (!spec) {
    process.stderr.write(`Unknown command '${command}'.\n\n${usage()}\n`);
    return 2;
  }
  const { values: parsed } = parseArgs({
    args: rest,
    options: Object.fromEntries([...spec.flags.map((f) => [f, { type: 'string' as const }]), ['json', { type: 'boolean' as const }], ['verbose', { type: 'boolean' as const }]]),
    strict: true,
    allowPositionals: false,
  });
  const values = parsed as Record<string, string | boolean | undefined>;
  const read: InputReader = (name) => (values[name] as string | undefined) ?? process.env[envName(name)];
  const log = consoleLogger({ verbose: Boolean(values.verbose) });
  const json = Boolean(values.json);

  if (command === 'backup') {
    const result = await runBackup(getBackupOptions(read), log);
    process.stdout.write(
      json ? JSON.stringify({ backupId: result.manifest.id, size: result.storedBytes, manifest: result.manifest }, null, 2) + '\n' : `${result.manifest.id}\n`,
    );
    return 0;
  }
  if (command === 'list') {
    const { bucket, filter } = getListInputs(read);
    const { backups, latest } = await runList(bucket, filter);
    if (json) {
      process.stdout.write(JSON.stringify({ backups: toListOutput(backups), latest: latest?.id ?? '' }, null, 2) + '\n');
    } else {
      const title = describeFilter(filter);
      process.stdout.write(`Backups${title ? ` (${title})` : ''}, newest first; latest restorable: ${latest?.id ?? 'none'}\n`);
      for (const b of backups) {
        process.stdout.write(`  ${b.id}  ${b.space.padEnd(12)} ${b.trigger.padEnd(11)} ${formatBytes(b.sizeBytes).padStart(10)}  ${b.status === 'complete' ? 'restorable' : 'INCOMPLETE (not restorable)'}\n`);
      }
      if (!backups.length) process.stdout.write('  (none)\n');
    }
    return 0;
  }
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`lifeboat: ${redact(errorMessage(error))}\n`);
    process.exit(1);
  },
);
