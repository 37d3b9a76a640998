import * as core from '@actions/core';
import { runBackup } from '../../engine/backup/backup.js';
import { cancellable } from '../../engine/cancellation.js';
import { backupSummary } from '../../engine/summaries.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBucket } from '../shared/binding-action.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { BackupOutputs, getBackupOptions } from './inputs.js';

export async function run(): Promise<void> {
  const request = readBucketRequest(readActionInput);
  const options = getBackupOptions(readActionInput, process.env, request.draft);
  const result = await cancellable(actionsLogger, { operation: 'backup' }, (signal) =>
    withActionBucket(request, 'backup', (bucket) => runBackup({ ...options, bucket, signal }, actionsLogger)),
  );
  core.setOutput(BackupOutputs.BackupId, result.manifest.id);
  core.setOutput(BackupOutputs.Size, String(result.storedBytes));
  await writeSummary(backupSummary(result));
}
