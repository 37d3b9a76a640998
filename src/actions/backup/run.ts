import * as core from '@actions/core';
import { runBackup } from '../../engine/backup.js';
import { backupSummary } from '../../engine/summaries.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { BackupOutputs, getBackupOptions } from './inputs.js';

export async function run(): Promise<void> {
  const options = getBackupOptions(readActionInput);
  const result = await runBackup(options, actionsLogger);
  core.setOutput(BackupOutputs.BackupId, result.manifest.id);
  core.setOutput(BackupOutputs.Size, String(result.storedBytes));
  await writeSummary(backupSummary(result));
}
