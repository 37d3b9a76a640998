import * as core from '@actions/core';
import { cancellable } from '../../engine/cancellation.js';
import { errorMessage } from '../../engine/errors.js';
import { authorizeRestoreRun, runRestore, type RestoreOptions } from '../../engine/restore/restore.js';
import { readBindingRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { restoreFailedSummary, restoreSummary } from '../../engine/summaries.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { boundRestoreOptions, getRestoreOptions, restoreBinding, RestoreOutputs } from './inputs.js';

export async function run(): Promise<void> {
  let options: RestoreOptions | undefined;
  try {
    const request = readBindingRequest(readActionInput, restoreBinding(readActionInput));
    options = getRestoreOptions(readActionInput, process.env, request.draft, request.fromBinding);
    const authorization = await authorizeRestoreRun(options, actionsLogger);
    const ready = options;
    const result = await cancellable(actionsLogger, { operation: 'restore', keepAccount: true }, (signal) =>
      withActionBinding(request, 'restore', (bound) => runRestore({ ...boundRestoreOptions(ready, bound), signal }, actionsLogger, authorization), signal),
    );
    core.setOutput(RestoreOutputs.BackupId, result.manifest.id);
    core.setOutput(RestoreOutputs.Verified, String(result.checks !== null));
    core.setOutput(RestoreOutputs.Method, result.method);
    core.setOutput(RestoreOutputs.PreRestoreBackupId, result.preRestoreBackupId ?? '');
    await writeSummary(restoreSummary(result));
  } catch (error) {
    // The summary says why nothing (or what) happened; the step still fails with the same message.
    await writeSummary(restoreFailedSummary(options ?? {}, errorMessage(error))).catch(() => undefined);
    throw error;
  }
}
