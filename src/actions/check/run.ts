import * as core from '@actions/core';
import { checkAndExport } from '../../engine/check/outputs.js';
import { checkSummary } from '../../engine/check/summary.js';
import { LifeboatError } from '../../engine/errors.js';
import type { FailedRun } from '../../engine/summaries.js';
import { plural } from '../../domain/report.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { CheckOutputs, getCheckInputs } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'check' };
  await withFailureSummary(asked, async () => {
    const request = readBucketRequest(readActionInput);
    const inputs = getCheckInputs(readActionInput, request.draft);
    asked.subject = inputs.space;
    asked.facts = [`Bucket: ${request.draft.bucket}`];
    const { result, document } = await withActionBinding(request, 'check', (bound) =>
      checkAndExport(inputs, bound.settings, actionsLogger, bound.session ? async (at) => (await bound.sweepStaleKeys({ reportOnly: true, now: at }))?.stale ?? [] : undefined),
    );
    core.setOutput(CheckOutputs.Status, result.ok ? 'ok' : 'failed');
    core.setOutput(CheckOutputs.Problems, String(result.problems.length));
    core.setOutput(CheckOutputs.Metrics, JSON.stringify(document));
    await writeSummary(checkSummary(result));
    if (!result.ok) {
      asked.summarized = true;
      throw new LifeboatError(`${plural(result.problems.length, 'problem')}: ${result.problems.join(' ')}`);
    }
  });
}
