/**
 * The CLI's flags and help come from the action.yml files: the generated module must be what the
 * action.yml files give today, and the help must show every input with its description and default.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CLI_ACTIONS, GENERATED_PATH, renderActionInputs } from '../../scripts/generate-cli-inputs.js';
import { cliWording } from '../../src/domain/input-wording.js';
import { ACTION_SPECS } from '../../src/cli/action-inputs.generated.js';
import { COMMON_FLAGS, commandFlags } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { commandHelp, inputNames, overview } from '../../src/cli/help.js';
import { MINIMUM_NODE_MAJOR } from '../../src/engine/version.js';

const ROOT = resolve(import.meta.dirname, '../..');
type ActionFile = { inputs: Record<string, { description: string; required?: boolean; default?: string }> };

describe('generated CLI inputs', () => {
  it(`${GENERATED_PATH} is what the action.yml files give (run npm run build after editing one)`, () => {
    expect(readFileSync(join(ROOT, GENERATED_PATH), 'utf8')).toBe(renderActionInputs(ROOT));
  });

  it('has a command for every action, and an action for every command', () => {
    expect(Object.keys(COMMANDS).sort()).toEqual([...CLI_ACTIONS].sort());
    for (const [name, command] of Object.entries(COMMANDS)) expect(command.action).toBe(name);
  });
});

describe.each(Object.keys(COMMANDS))('lifeboat %s --help', (name) => {
  const command = COMMANDS[name]!;
  const help = commandHelp(name, command);
  const file = parse(readFileSync(join(ROOT, 'actions', name, 'action.yml'), 'utf8')) as ActionFile;

  it('lists every input of action.yml as a flag, with its description (in flag words) and default', () => {
    const lines = help.split('\n');
    const flat = help.replace(/\n {6}/g, ' ');
    for (const [input, spec] of Object.entries(file.inputs)) {
      const entry = lines.find((l) => l.startsWith(`  --${input} `) || l === `  --${input}`);
      expect(entry, input).toBeDefined();
      if (spec.required) expect(entry, input).toMatch(/ required/);
      const isSwitch = spec.default === 'true' || spec.default === 'false';
      expect(entry!.includes('<value>'), input).toBe(!isSwitch);
      if (spec.default) expect(entry, input).toContain(`default: ${spec.default}`);
      else expect(entry, input).not.toContain('default:');
      expect(flat, input).toContain(cliWording(spec.description, inputNames(command)).replace(/\s+/g, ' '));
    }
  });

  it('lists no flag that is neither an input nor a documented CLI-only flag', () => {
    const listed = [...help.matchAll(/^ {2}--([a-z0-9-]+)/gm)].map((m) => m[1]);
    const documented = [...Object.keys(file.inputs), ...[...(command.cliOnly ?? []), ...COMMON_FLAGS].map((f) => f.name)];
    expect(listed.sort()).toEqual(documented.sort());
    const { values, switches } = commandFlags(command);
    expect([...values, ...switches].sort()).toEqual(documented.sort());
  });

  it('shows the exit codes', () => {
    expect(help).toMatch(/^ {2}2 {8}usage error/m);
  });
});

describe('lifeboat --help', () => {
  it('names every command with its summary and how to get its help', () => {
    const text = overview(COMMANDS);
    for (const [name, command] of Object.entries(COMMANDS)) expect(text).toContain(`  ${name.padEnd(8)} ${command.summary}`);
    expect(text).toContain("Run 'lifeboat <command> --help'");
  });

  it('uses the descriptions of the action.yml files', () => {
    expect(commandHelp('backup', COMMANDS.backup!).replace(/\n/g, ' ')).toContain(ACTION_SPECS.backup.description);
  });
});

describe('the Node.js the CLI requires', () => {
  it("is package.json's engines", () => {
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(`>=${MINIMUM_NODE_MAJOR}`);
  });
});
