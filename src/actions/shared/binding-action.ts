/**
 * The action side of binding: the state that main leaves for the post step (core.saveState, never
 * a secret in it), and the wrapper an action's main runs its work in.
 *
 * Main deletes its keys as soon as its work is done, so nothing is exposed for longer than
 * needed; the post step (dist/unbind, `post-if: always()`) deletes whatever main could not: after a
 * failure to delete, a crash, or a cancelled job.
 */
import * as core from '@actions/core';
import { LifeboatError, errorMessage } from '../../engine/errors.js';
import type { BindingJournal, BindingState, KeyRecord } from '../../engine/platform/index.js';
import { bindForOperation, type BoundResources, type BucketRequest } from './binding.js';
import { actionsLogger } from './toolkit.js';

/** The state entry (read in post as STATE_lifeboat-binding). */
export const BINDING_STATE = 'lifeboat-binding';

export const actionJournal: BindingJournal = {
  save: (state) => core.saveState(BINDING_STATE, JSON.stringify(state)),
};

/** Reads a saved state; undefined when main saved none. Throws on a state it cannot understand. */
export function parseBindingState(text: string): BindingState | undefined {
  if (!text.trim()) return undefined;
  let state: BindingState;
  try {
    state = JSON.parse(text) as BindingState;
  } catch (error) {
    throw new LifeboatError(`The binding state left by the main step is not JSON: ${errorMessage(error)}.`);
  }
  const keyOk = (k: KeyRecord) => typeof k?.name === 'string' && typeof k.instance === 'string' && ['planned', 'created', 'deleted'].includes(k.state);
  if (state?.v !== 1 || typeof state.api !== 'string' || !Array.isArray(state.keys) || !state.keys.every(keyOk)) {
    throw new LifeboatError(`The binding state left by the main step has an unknown form: ${text.slice(0, 200)}`);
  }
  return state;
}

/**
 * Binds what the request names (binding: cloudfoundry) for `work`, and deletes every key (and
 * closes the tunnel) when `work` ends, however it ends. If a deletion fails, it is only a warning
 * here: the post step tries again, and fails the job loudly if it cannot.
 */
export async function withActionBinding<T>(request: BucketRequest, operation: string, work: (bound: BoundResources) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const bound = await bindForOperation(request, operation, actionsLogger, actionJournal, { signal });
  try {
    return await work(bound);
  } finally {
    await bound.release().catch((error: unknown) => actionsLogger.warning(`${errorMessage(error)} The post step will try again.`));
  }
}
