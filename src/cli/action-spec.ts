/** An action's metadata as the CLI uses it (generated from its action.yml into action-inputs.generated.ts). */
export interface ActionInputSpec {
  name: string;
  description: string;
  required: boolean;
  /** The action.yml default; '' when it has none. */
  default: string;
}

export interface ActionSpec {
  description: string;
  inputs: ActionInputSpec[];
}

/** An input whose default is true or false is a boolean: a switch in the CLI (--dry-run, --no-row-counts). */
export function isBooleanInput(input: ActionInputSpec): boolean {
  return input.default === 'true' || input.default === 'false';
}
