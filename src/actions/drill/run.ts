import * as core from '@actions/core';
import { cancellable } from '../../engine/cancellation.js';
import { runDrill } from '../../engine/drill/drill.js';
import { drillSummary } from '../../engine/drill/summary.js';
import { LifeboatError } from '../../engine/errors.js';
import type { FailedRun } from '../../engine/summaries.js';
import { plural } from '../../domain/report.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { DrillOutputs, getDrillOptions } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'drill' };
  await withFailureSummary(asked, async () => {
    const request = readBucketRequest(readActionInput);
    const options = getDrillOptions(readActionInput, process.env, request.draft);
    asked.subject = `of ${options.space}`;
    asked.facts = [`Backup asked for: ${options.backupId}`];
    const result = await cancellable(actionsLogger, { operation: 'drill', keepAccount: true }, (signal) =>
      withActionBinding(request, 'drill', (bound) => runDrill({ ...options, bucket: bound.settings, signal }, actionsLogger), signal),
    );
    core.setOutput(DrillOutputs.BackupId, result.backupId);
    core.setOutput(DrillOutputs.RtoSeconds, (result.rtoMs / 1000).toFixed(3));
    core.setOutput(DrillOutputs.Assertions, JSON.stringify(result.assertions.map(({ name, line, ok, why }) => ({ name, line, ok, ...(why ? { why } : {}) }))));
    core.setOutput(DrillOutputs.Status, result.ok ? 'ok' : 'failed');
    await writeSummary(drillSummary(result));
    if (!result.ok) {
      asked.summarized = true;
      throw new LifeboatError(`${plural(result.problems.length, 'problem')}: ${result.problems.join(' ')}`);
    }
  });
}
