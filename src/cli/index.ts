#!/usr/bin/env node
/**
 * The lifeboat CLI: the same operations as the actions, for cron, a Cloud Foundry task or a laptop.
 * Every action input is a flag of the same name (--database-url), or an environment variable
 * LIFEBOAT_<NAME> (LIFEBOAT_DATABASE_URL), which keeps secrets out of the process list.
 */
import { parseArgs } from 'node:util';
import { CancelledError } from '../engine/cancellation.js';
import { errorMessage } from '../engine/errors.js';
import { consoleLogger } from '../engine/logger.js';
import { redact } from '../engine/secrets.js';
import type { InputReader } from '../actions/shared/inputs.js';
import { COMMANDS } from './commands.js';

function usage(): string {
  const lines = ['Usage: lifeboat <command> [--flag value ...] [--json] [--verbose]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) {
    lines.push(`  ${name.padEnd(8)} ${c.summary}`, `           ${[...c.flags, ...(c.switches ?? [])].map((f) => '--' + f).join(' ')}`);
  }
  lines.push('', 'Every flag can also be set as an environment variable: --database-url is LIFEBOAT_DATABASE_URL.');
  return lines.join('\n');
}

export function envName(flag: string): string {
  return 'LIFEBOAT_' + flag.toUpperCase().replace(/-/g, '_');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`Unknown command '${name}'.\n\n${usage()}\n`);
    return 2;
  }
  const booleans = ['json', 'verbose', ...(command.switches ?? [])];
  const { values: parsed } = parseArgs({
    args: rest,
    options: Object.fromEntries([
      ...command.flags.map((f) => [f, { type: 'string' as const }]),
      ...booleans.map((f) => [f, { type: 'boolean' as const }]),
    ]),
    strict: true,
    allowPositionals: false,
  });
  const values = parsed as Record<string, string | boolean | undefined>;
  // A switch such as --dry-run reads as the input value 'true', so the action's input parsing applies unchanged.
  const read: InputReader = (flag) => {
    const value = values[flag];
    if (typeof value === 'boolean') return String(value);
    return value ?? process.env[envName(flag)];
  };
  return command.run(read, { log: consoleLogger({ verbose: Boolean(values.verbose) }), json: Boolean(values.json), out: process.stdout });
}

/** Exits once stdout and stderr have flushed: a large --json report written to a pipe must not be cut short. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exitAfterFlush, (error: unknown) => {
  process.stderr.write(`lifeboat: ${redact(errorMessage(error))}\n`);
  // A cancelled run exits as the signal asked (130 after SIGINT, 143 after SIGTERM), never 0.
  exitAfterFlush(error instanceof CancelledError ? error.exitCode : 1);
});
