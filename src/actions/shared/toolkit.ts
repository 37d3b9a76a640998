/**
 * The seam between the engine and @actions/core: a logger, input reader and secret masking for
 * the actions, and the one wrapper every entry point runs in.
 */
// First, before the modules below load: keeps V8's heap close to what the process holds (src/engine/heap-bound.ts).
import '../../engine/heap-bound.js';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@actions/core';
import { errorMessage } from '../../engine/errors.js';
import type { Logger } from '../../engine/logger.js';
import { onSecretRegistered, redact } from '../../engine/secrets.js';
import type { InputReader } from './inputs.js';

export const readActionInput: InputReader = (name) => core.getInput(name);

export const actionsLogger: Logger = {
  info: (m) => core.info(redact(m)),
  warning: (m) => core.warning(redact(m)),
  debug: (m) => core.debug(redact(m)),
  group: (title, body) => core.group(redact(title), body),
};

export async function writeSummary(markdown: string): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) return; // outside a runner there is nowhere to write it
  await core.summary.addRaw(redact(markdown)).write();
}

/**
 * Runs an action's main function as a step: secrets are masked from the first moment, and any failure
 * fails the step (::error::) with a message free of secrets. Never throws. This is the `run` each entry
 * module exports, so @github/local-action, which imports the module and calls `run`, masks and fails
 * exactly as the runner does.
 */
export async function runStep(name: string, main: () => Promise<void>): Promise<void> {
  onSecretRegistered((secret) => core.setSecret(secret));
  try {
    await main();
  } catch (error) {
    core.setFailed(`lifeboat ${name} failed: ${errorMessage(error)}`);
  }
}

/**
 * runStep, then exit: explicitly, because idle keep-alive sockets of the S3 client can otherwise hold
 * the process open after the work is done. Only for the runner's `node dist/<action>/index.js`.
 */
export async function runAction(name: string, main: () => Promise<void>): Promise<never> {
  await runStep(name, main);
  process.exit(process.exitCode ?? 0);
}

/**
 * Whether the module at `moduleUrl` is the script node was started with (the runner's `node
 * dist/backup/index.js`), rather than imported (by @github/local-action, or a test): an entry module runs
 * its step only then, so that importing it and calling its exported `run` runs the step once.
 */
export function isEntryModule(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1 || !moduleUrl.startsWith('file:')) return false;
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  };
  return real(fileURLToPath(moduleUrl)) === real(argv1);
}
