import * as core from '@actions/core';
import { withCancellation } from '../../engine/cancellation.js';
import { errorMessage } from '../../engine/errors.js';
import { authorizeRestoreRun, runRestore, type RestoreOptions } from '../../engine/restore/restore.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBucket } from '../shared/binding-action.js';
import { restoreFailedSummary, restoreSummary } from '../../engine/summaries.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { getRestoreOptions, RestoreOutputs } from './inputs.js';

export async function run(): Promise<void> {
  let options: RestoreOptions | undefined;
  try {
    const request = readBucketRequest(readActionInput);
    options = getRestoreOptions(readActionInput, process.env, request.draft);
    const authorization = await authorizeRestoreRun(options, actionsLogger);
    const ready = options;
    const result = await withCancellation((signal) =>
      withActionBucket(request, 'restore', (bucket) => runRestore({ ...ready, bucket, signal }, actionsLogger, authorization)),
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
