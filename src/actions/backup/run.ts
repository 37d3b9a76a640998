import * as core from '@actions/core';
import { runBackup } from '../../engine/backup/backup.js';
import { copyAfterBackup } from '../../engine/replica/after-backup.js';
import { replicaSettings } from '../shared/inputs.js';
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
    const replica = replicaSettings(readActionInput);
    const { result, replicated } = await cancellable(actionsLogger, { operation: 'backup' }, (signal) =>
      withActionBinding(
        request,
        'backup',
        async (bound) => {
          const result = await runBackup({ ...boundBackupOptions(options, bound), signal }, actionsLogger);
          const replicated = replica ? await copyAfterBackup(bound.settings, replica, result, actionsLogger, { signal }) : undefined;
          return { result, replicated };
        },
        signal,
      ),
    );
    core.setOutput(BackupOutputs.BackupId, result.manifest.id);
    core.setOutput(BackupOutputs.Size, String(result.storedBytes));
    const replicaLine = !replicated
      ? ''
      : 'copied' in replicated
        ? `\n- Copied to the replica \`${replicated.copied.replica}\` (every byte checked against the manifest; manifest written last).\n`
        : `\n> [!WARNING]\n> The backup is good, but copying it to the replica failed: ${replicated.failed.message}\n`;
    await writeSummary(backupSummary(result) + replicaLine);
    if (replicated && 'failed' in replicated) {
      asked.summarized = true;
      throw replicated.failed;
    }
  });
}
