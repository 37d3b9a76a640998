import type { Logger } from '../engine/logger.js';
import type { InputReader } from '../actions/shared/inputs.js';
import { ACTION_SPECS } from './action-inputs.generated.js';
import { isBooleanInput, type ActionInputSpec } from './action-spec.js';

export type CommandName = keyof typeof ACTION_SPECS;

/** A flag the CLI has and no action.yml has (--json, --automated): documented here, listed in --help. */
export interface CliOnlyFlag {
  name: string;
  description: string;
  /** A switch (true/false) rather than a flag with a value. */
  switch: boolean;
}

/** Flags every command has. */
export const COMMON_FLAGS: readonly CliOnlyFlag[] = [
  { name: 'json', switch: true, description: 'Print the result as JSON on stdout (logs stay on stderr).' },
  { name: 'verbose', switch: true, description: 'Also log debug lines.' },
  { name: 'help', switch: true, description: 'Show this help and exit (also -h, or lifeboat help <command>).' },
];

/**
 * One CLI command: its flags are its action's inputs, taken from the action's action.yml (through
 * action-inputs.generated.ts), read through the same input parsing as the action, plus COMMON_FLAGS and
 * its own `cliOnly` flags.
 */
export interface CliCommand {
  /** The action it runs; its action.yml gives the flags and their help. */
  action: CommandName;
  summary: string;
  cliOnly?: readonly CliOnlyFlag[];
  run(read: InputReader, context: { log: Logger; json: boolean; out: NodeJS.WritableStream }): Promise<number>;
}

export function actionInputs(command: CliCommand): readonly ActionInputSpec[] {
  return ACTION_SPECS[command.action].inputs;
}

/** Every flag of a command: its action's inputs, then the CLI-only ones. */
export function commandFlags(command: CliCommand): { values: string[]; switches: string[] } {
  const inputs = actionInputs(command);
  const cliOnly = [...(command.cliOnly ?? []), ...COMMON_FLAGS];
  return {
    values: [...inputs.filter((i) => !isBooleanInput(i)).map((i) => i.name), ...cliOnly.filter((f) => !f.switch).map((f) => f.name)],
    switches: [...inputs.filter(isBooleanInput).map((i) => i.name), ...cliOnly.filter((f) => f.switch).map((f) => f.name)],
  };
}
