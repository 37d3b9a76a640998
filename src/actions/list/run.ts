import * as core from '@actions/core';
import { runList, toListOutput } from '../../engine/list.js';
import { listSummary } from '../../engine/summaries.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { describeFilter, getListInputs, ListOutputs } from './inputs.js';

export async function run(): Promise<void> {
  const { bucket, filter } = getListInputs(readActionInput);
  const { backups, latest } = await runList(bucket, filter);
  const incomplete = backups.filter((b) => b.status === 'incomplete').length;
  actionsLogger.info(
    `${backups.length - incomplete} restorable and ${incomplete} incomplete backups${describeFilter(filter) ? ` for ${describeFilter(filter)}` : ''}; latest: ${latest?.id ?? 'none'}.`,
  );
  core.setOutput(ListOutputs.Backups, JSON.stringify(toListOutput(backups)));
  core.setOutput(ListOutputs.Latest, latest?.id ?? '');
  await writeSummary(listSummary(backups, latest, describeFilter(filter)));
}
