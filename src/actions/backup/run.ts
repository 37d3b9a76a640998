import * as core from '@actions/core';
import { runBackup } from '../../engine/backup/backup.js';
import { cancellable } from '../../engine/cancellation.js';
import { backupSummary, type FailedRun } from '../../engine/summaries.js';
import { readBindingRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { BACKUP_BINDING, BackupOutputs, boundBackupOptions, getBackupOptions } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'backup' };
  await withFailureSummary(asked, async () => {
    const request = readBindingRequest(readActionInput, BACKUP_BINDING);
    const options = getBackupOptions(readActionInput, process.env, request.draft, request.fromBinding);
    asked.subject = `of ${options.space}`;
    asked.facts = [`Trigger: ${options.trigger}; bucket: ${options.bucket.bucket}`];
    const result = await cancellable(actionsLogger, { operation: 'backup' }, (signal) =>
      withActionBinding(request, 'backup', (bound) => runBackup({ ...boundBackupOptions(options, bound), signal }, actionsLogger), signal),
    );
    core.setOutput(BackupOutputs.BackupId, result.manifest.id);
    core.setOutput(BackupOutputs.Size, String(result.storedBytes));
    await writeSummary(backupSummary(result));
  });
}
