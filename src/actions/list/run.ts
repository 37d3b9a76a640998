import * as core from '@actions/core';
import { runList, toListOutput } from '../../engine/list/list.js';
import { listSummary } from '../../engine/summaries.js';
import { readBucketRequest } from '../shared/binding.js';
import { withActionBucket } from '../shared/binding-action.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { describeFilter, getListInputs, ListOutputs } from './inputs.js';

export async function run(): Promise<void> {
  const request = readBucketRequest(readActionInput);
  const { filter, details: withDetails } = getListInputs(readActionInput, request.draft);
  const { backups, latest, details } = await withActionBucket(request, 'list', (bucket) => runList(bucket, filter, { details: withDetails }));
  const incomplete = backups.filter((b) => b.status === 'incomplete').length;
  actionsLogger.info(
    `${backups.length - incomplete} restorable and ${incomplete} incomplete backups${describeFilter(filter) ? ` for ${describeFilter(filter)}` : ''}; latest: ${latest?.id ?? 'none'}.`,
  );
  core.setOutput(ListOutputs.Backups, JSON.stringify(toListOutput(backups, details)));
  core.setOutput(ListOutputs.Latest, latest?.id ?? '');
  await writeSummary(listSummary(backups, latest, describeFilter(filter), details));
}
