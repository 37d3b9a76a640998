import * as core from '@actions/core';
import { runList, toListOutput } from '../../engine/list/list.js';
import { listSummary, type FailedRun } from '../../engine/summaries.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { describeFilter, getListInputs, ListOutputs } from './inputs.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'list' };
  await withFailureSummary(asked, async () => {
    const request = readBucketRequest(readActionInput);
    const { filter, details: withDetails, replica } = getListInputs(readActionInput, request.draft);
    asked.subject = describeFilter(filter) ? `(${describeFilter(filter)})` : undefined;
    asked.facts = [replica ? `Replica bucket: ${replica.bucket}` : `Bucket: ${request.draft.bucket}`];
    const { backups, latest, latestPerSpace, details } = await withActionBinding(request, 'list', (bound) =>
      runList(replica ?? bound.settings, filter, { details: withDetails, inputName: replica ? 'replica-bucket' : undefined }),
    );
    const incomplete = backups.filter((b) => b.status === 'incomplete').length;
    const invalid = backups.filter((b) => b.status === 'invalid');
    for (const b of invalid) actionsLogger.warning(`Backup ${b.id} of '${b.space}' is not restorable: ${b.problem ?? 'its manifest is invalid'}`);
    actionsLogger.info(
      `${backups.length - incomplete - invalid.length} restorable, ${incomplete} incomplete and ${invalid.length} invalid backups${describeFilter(filter) ? ` for ${describeFilter(filter)}` : ''}; latest: ${latest?.id ?? 'none'}.`,
    );
    core.setOutput(ListOutputs.Backups, JSON.stringify(toListOutput(backups, details)));
    core.setOutput(ListOutputs.Latest, latest?.id ?? '');
    await writeSummary(listSummary({ backups, latestPerSpace, filterText: describeFilter(filter), details }));
  });
}
