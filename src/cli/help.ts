/**
 * The CLI's help, generated from each action's action.yml (descriptions, required, defaults) through
 * action-inputs.generated.ts, in the CLI's wording (cliWording: `binding: cloudfoundry` reads
 * `--binding cloudfoundry`).
 */
import { cliWording, envName, type InputNames } from '../domain/input-wording.js';
import { ACTION_SPECS } from './action-inputs.generated.js';
import { isBooleanInput } from './action-spec.js';
import { actionInputs, COMMON_FLAGS, type CliCommand, type CliOnlyFlag } from './command.js';

const WIDTH = 100;
const INDENT = '      ';

/** Inputs whose values are secrets: better given as LIFEBOAT_<NAME> than as a flag, which other users of the machine can see in ps. */
export function isSecretInput(name: string): boolean {
  return /secret|token|password|username/.test(name) || ['database-url', 'signing-key', 'encryption-identity'].includes(name);
}

export const EXIT_CODES: readonly [number | string, string][] = [
  [0, 'done'],
  [1, 'the operation failed or was refused (the message says why and what to do)'],
  [2, 'usage error: unknown command or flag, a missing or malformed value, or a Node.js too old; nothing was attempted'],
  ['130, 143', 'interrupted by SIGINT or SIGTERM; the operation was rolled back or cleaned up as far as it got'],
];

export function inputNames(command: CliCommand): InputNames {
  const inputs = actionInputs(command);
  return { inputs: new Set(inputs.map((i) => i.name)), switches: new Set(inputs.filter(isBooleanInput).map((i) => i.name)) };
}

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

function flagEntry(flag: string, isSwitch: boolean, notes: string[], description: string): string[] {
  const head = `  --${flag}${isSwitch ? '' : ' <value>'}`;
  return [notes.length ? `${head.padEnd(40)} ${notes.join('; ')}` : head, ...wrap(description, INDENT)];
}

export function commandHelp(name: string, command: CliCommand): string {
  const names = inputNames(command);
  const inputs = actionInputs(command);
  const required = inputs.filter((i) => i.required).map((i) => ` --${i.name} <value>`).join('');
  const lines = [`lifeboat ${name}: ${command.summary}`, '', `Usage: lifeboat ${name}${required} [flags]`, ''];
  lines.push(...wrap(cliWording(actionDescription(command), names), ''), '');
  lines.push('Flags (the inputs of the action; each can also be set in the environment as LIFEBOAT_<NAME>):');
  for (const input of inputs) {
    const notes: string[] = [];
    if (input.required) notes.push('required');
    if (input.default !== '') notes.push(`default: ${input.default}`);
    if (isSecretInput(input.name)) notes.push(`secret: prefer ${envName(input.name)}`);
    lines.push(...flagEntry(input.name, isBooleanInput(input), notes, cliWording(input.description, names)));
  }
  lines.push('', 'CLI only:');
  const cliOnly: CliOnlyFlag[] = [...(command.cliOnly ?? []), ...COMMON_FLAGS];
  for (const flag of cliOnly) lines.push(...flagEntry(flag.name, flag.switch, [], flag.description));
  lines.push('', 'Switches also take --name=false or --no-name.', '', exitCodesText());
  return lines.join('\n');
}

function actionDescription(command: CliCommand): string {
  return ACTION_SPECS[command.action].description;
}

export function overview(commands: Record<string, CliCommand>): string {
  const lines = ['Usage: lifeboat <command> [--flag value ...]', '', 'Commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(8)} ${c.summary}`);
  lines.push(
    '',
    "Run 'lifeboat <command> --help' (or 'lifeboat help <command>') for its flags, their descriptions and defaults.",
    'Every flag can also be set as an environment variable: --database-url is LIFEBOAT_DATABASE_URL.',
    "'lifeboat --version' prints the version.",
    '',
    exitCodesText(),
  );
  return lines.join('\n');
}

function exitCodesText(): string {
  return ['Exit codes:', ...EXIT_CODES.map(([code, meaning]) => `  ${String(code).padEnd(9)}${meaning}`)].join('\n');
}
