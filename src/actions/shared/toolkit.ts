/**
 * The seam between the engine and @actions/core: a logger, input reader and secret masking for
 * the actions, and the one wrapper every entry point runs in.
 */
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
 * Runs an action's main function: secrets are masked from the first moment, and any failure
 * fails the step with a message free of secrets. Exits explicitly because idle keep-alive sockets
 * of the S3 client can otherwise hold the process open after the work is done.
 */
export async function runAction(name: string, main: () => Promise<void>): Promise<never> {
  onSecretRegistered((secret) => core.setSecret(secret));
  try {
    await main();
  } catch (error) {
    core.setFailed(`lifeboat ${name} failed: ${errorMessage(error)}`);
  }
  process.exit(process.exitCode ?? 0);
}
