/**
 * The post step shared by every action that binds through the platform: deletes the service keys (backup bucket, media bucket, database) that the
 * main step recorded in its state and did not delete itself. Runs with `post-if: always()`, so
 * after failures and cancellations too.
 *
 * - No state: main made no key (binding: none, or it failed before binding). Nothing to do, said only in the debug log.
 * - A key recorded only by name (main died between creating it and learning its guid): found by
 *   name on its service instance and deleted; if it does not exist, it was never created.
 * - A key already gone (404): fine. Running post twice is fine.
 * - Anything left: the step fails, with an error annotation per key saying how to delete it.
 *
 * The service account's username and password are read from the inputs again (they are never
 * saved in state).
 */
import * as core from '@actions/core';
import { CfBindings, deleteCommand, memoryJournal, purposeOf, UnbindError, type KeyRecord } from '../../engine/platform/index.js';
import { errorMessage, LifeboatError } from '../../engine/errors.js';
import { secretInput } from '../shared/inputs.js';
import { actionsLogger, readActionInput } from '../shared/toolkit.js';
import { BINDING_STATE, parseBindingState } from '../shared/binding-action.js';

/** One error annotation per key left behind, so that a person sees which key to delete and how. */
function annotate(left: readonly { record: KeyRecord; message: string }[]): void {
  for (const { record, message } of left) {
    core.error(
      `Service key '${record.name}' of '${record.instance}' could not be deleted: ${message.replace(/\.$/, '')}. Its credentials give access to ${purposeOf(record)} until it is deleted: ${deleteCommand(record)}`,
      { title: `Lifeboat left service key ${record.name}` },
    );
  }
}

export async function post(): Promise<void> {
  const state = parseBindingState(core.getState(BINDING_STATE));
  if (!state) {
    // The usual case (binding: none): the post step runs after every Lifeboat step, and says nothing unless asked (debug logging).
    actionsLogger.debug('Lifeboat made no service key in this step; nothing to unbind.');
    return;
  }
  const outstanding = state.keys.filter((k) => k.state !== 'deleted');
  if (!outstanding.length) {
    actionsLogger.info(`The main step already deleted its service key${state.keys.length === 1 ? '' : 's'} (${state.keys.map((k) => k.name).join(', ')}).`);
    return;
  }
  actionsLogger.info(`Deleting ${outstanding.length} service key${outstanding.length === 1 ? '' : 's'} left by the main step: ${outstanding.map((k) => k.name).join(', ')}.`);
  const username = secretInput(readActionInput, 'cf-username');
  const password = secretInput(readActionInput, 'cf-password');
  if (!username || !password) {
    const why = "the post step got no 'cf-username' and 'cf-password' inputs";
    annotate(outstanding.map((record) => ({ record, message: why })));
    throw new LifeboatError(`Cannot delete the service keys: ${why}.`);
  }
  let bindings: CfBindings | undefined;
  try {
    bindings = await CfBindings.resume(state, { username, password }, memoryJournal, actionsLogger);
    await bindings.unbindAll();
  } catch (error) {
    annotate(error instanceof UnbindError ? error.left : (bindings?.outstanding ?? outstanding).map((record) => ({ record, message: errorMessage(error) })));
    throw error;
  }
}
