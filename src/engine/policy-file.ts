/**
 * Finding and reading the policy file. With no file at the default path, FAC's rules apply; a path
 * given explicitly must exist, because a typo there should not silently fall back to defaults.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DEFAULT_POLICY, DEFAULT_POLICY_PATH, parsePolicy, type Policy } from '../domain/policy.js';
import { LifeboatError, errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export function loadPolicy(explicitPath: string | undefined, log: Logger, workspace = process.env.GITHUB_WORKSPACE ?? process.cwd()): Policy {
  const relative = explicitPath ?? DEFAULT_POLICY_PATH;
  const path = isAbsolute(relative) ? relative : join(workspace, relative);
  if (!existsSync(path)) {
    if (explicitPath) {
      throw new LifeboatError(`Input 'policy-file' is '${explicitPath}', but there is no file at ${path}. Check the path, or remove the input to use ${DEFAULT_POLICY_PATH} or the defaults.`);
    }
    log.info(`No policy file at ${relative}: using the default policy (FAC's restore matrix and retention).`);
    return DEFAULT_POLICY;
  }
  const input = explicitPath ? `Input 'policy-file' is '${explicitPath}', but` : `The policy file`;
  if (statSync(path).isDirectory()) {
    throw new LifeboatError(`${input} ${path} is a directory. Give the path of the YAML file itself, e.g. ${DEFAULT_POLICY_PATH}.`);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new LifeboatError(`${input} ${path} cannot be read (${errorMessage(error)}). Check the path and that the file is readable by the runner.`, { cause: error });
  }
  const policy = parsePolicy(text, relative);
  log.info(`Policy read from ${relative}.`);
  return policy;
}
