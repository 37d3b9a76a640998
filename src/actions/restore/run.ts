import * as core from '@actions/core';
import { cancellable } from '../../engine/cancellation.js';
import { authorizeRestoreRun, runRestore } from '../../engine/restore/restore.js';
import { readBindingRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { restoreSummary, type FailedRun } from '../../engine/summaries.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { boundRestoreOptions, getRestoreOptions, restoreBinding, RestoreOutputs } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'restore' };
  await withFailureSummary(asked, async () => {
    const request = readBindingRequest(readActionInput, restoreBinding(readActionInput));
    const options = getRestoreOptions(readActionInput, process.env, request.draft, request.fromBinding);
    asked.subject = `${options.sourceSpace} → ${options.targetSpace}`;
    asked.facts = [`Backup asked for: ${options.backupId}`];
    const authorization = await authorizeRestoreRun(options, actionsLogger);
    const result = await cancellable(actionsLogger, { operation: 'restore', keepAccount: true }, (signal) =>
      withActionBinding(request, 'restore', (bound) => runRestore({ ...boundRestoreOptions(options, bound), signal }, actionsLogger, authorization), signal),
    );
    core.setOutput(RestoreOutputs.BackupId, result.manifest.id);
    core.setOutput(RestoreOutputs.Verified, String(result.checks !== null));
    core.setOutput(RestoreOutputs.Method, result.method);
    core.setOutput(RestoreOutputs.PreRestoreBackupId, result.preRestoreBackupId ?? '');
    const fromReplica = result.store
      ? `\n> [!WARNING]\n> Restored from the **replica** \`${options.replica?.bucket ?? ''}\`, not the backup bucket${result.store.fellBackBecause ? `, because the backup bucket could not be used: ${result.store.fellBackBecause}` : " ('store: replica')"}. The replica's backup passed the same checks.\n`
      : '';
    await writeSummary(restoreSummary(result) + fromReplica);
  });
}
