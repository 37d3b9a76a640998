import * as core from '@actions/core';
import { cancellable } from '../../engine/cancellation.js';
import { runCopy } from '../../engine/replica/copy.js';
import { copySummary } from '../../engine/replica/summary.js';
import type { FailedRun } from '../../engine/summaries.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { CopyOutputs, getCopyOptions } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'copy' };
  await withFailureSummary(asked, async () => {
    const request = readBucketRequest(readActionInput);
    const options = getCopyOptions(readActionInput, process.env, request.draft);
    asked.subject = options.backupId ? `of ${options.space}/${options.backupId}` : options.space ? `of ${options.space}` : 'of every space';
    asked.facts = [`From: ${options.primary.bucket}; to the replica: ${options.replica.bucket}`];
    const result = await cancellable(actionsLogger, { operation: 'copy' }, (signal) =>
      withActionBinding(request, 'copy', (bound) => runCopy({ ...options, primary: bound.settings, signal }, actionsLogger), signal),
    );
    core.setOutput(CopyOutputs.Copied, JSON.stringify(result.backups.filter((b) => b.state === 'copied').map((b) => `${b.space}/${b.id}`)));
    core.setOutput(CopyOutputs.Present, JSON.stringify(result.backups.filter((b) => b.state === 'present').map((b) => `${b.space}/${b.id}`)));
    await writeSummary(copySummary(result));
  });
}
