import * as core from '@actions/core';
import { PolicyError, retentionFor } from '../../domain/policy.js';
import { loadPolicy } from '../../engine/policy-file.js';
import { assertNoFailures, deletedIds, keptIds, lockedOutput, runPrune } from '../../engine/prune/prune.js';
import { pruneSummary, type FailedRun } from '../../engine/summaries.js';
import { withFailureSummary } from '../shared/summary.js';
import { actionsLogger, readActionInput, writeSummary } from '../shared/toolkit.js';
import { getPruneInputs, PRUNE_BINDING, PruneOutputs } from './inputs.js';
import { readBindingRequest } from '../shared/binding.js';
import { withActionBinding } from '../shared/binding-action.js';

export async function run(): Promise<void> {
  const asked: FailedRun = { action: 'prune' };
  await withFailureSummary(asked, () => prune(asked));
}

async function prune(asked: FailedRun): Promise<void> {
  const request = readBindingRequest(readActionInput, PRUNE_BINDING);
  const inputs = getPruneInputs(readActionInput, request.draft);
  asked.subject = inputs.space ? `of ${inputs.space}` : 'of every space';
  if (inputs.dryRun) asked.facts = ['Dry run: nothing was to be deleted.'];
  let policy;
  try {
    policy = loadPolicy(inputs.policyFile, actionsLogger);
  } catch (error) {
    // One annotation per problem, on the line of the policy file it is about; the step then fails with all of them.
    if (error instanceof PolicyError) {
      for (const issue of error.issues) {
        core.error(issue.message, { title: 'Invalid Lifeboat policy', file: error.sourcePath, startLine: issue.line, startColumn: issue.column });
      }
      throw new Error(`${error.message}\nNothing was deleted.`);
    }
    throw error;
  }
  const result = await withActionBinding(request, 'prune', async (bound) => {
    // Keys left behind by crashed runs (their post step never ran) are swept with the backups.
    if (!inputs.dryRun) {
      const swept = await bound.sweepStaleKeys();
      if (swept?.deleted.length) actionsLogger.info(`Deleted ${swept.deleted.length} stale Lifeboat service key(s): ${swept.deleted.join(', ')}.`);
      for (const failure of swept?.failed ?? []) actionsLogger.warning(`Could not delete the stale service key ${failure.name}: ${failure.message}`);
    }
    const primary = inputs.stores === 'replica' ? undefined : await runPrune({ ...inputs, bucket: bound.settings, policy }, actionsLogger);
    // The replica by its own rules (replica-retention), or the same as the backup bucket's.
    const replica = inputs.replica
      ? await actionsLogger.group(`Prune the replica s3://${inputs.replica.bucket}`, () =>
          runPrune({ ...inputs, bucket: inputs.replica!, policy: { ...policy, retention: retentionFor(policy, 'replica') } }, actionsLogger),
        )
      : undefined;
    return { primary, replica };
  });
  const main = result.primary ?? result.replica!;
  core.setOutput(PruneOutputs.Deleted, JSON.stringify(deletedIds(main)));
  core.setOutput(PruneOutputs.Kept, JSON.stringify(keptIds(main)));
  core.setOutput(PruneOutputs.AbortedUploads, JSON.stringify((main.uploads?.aborted ?? []).map((u) => u.key)));
  core.setOutput(PruneOutputs.Locked, JSON.stringify(lockedOutput(main)));
  if (result.replica) {
    core.setOutput(PruneOutputs.ReplicaDeleted, JSON.stringify(deletedIds(result.replica)));
    core.setOutput(PruneOutputs.ReplicaKept, JSON.stringify(keptIds(result.replica)));
  }
  await writeSummary(
    [result.primary && pruneSummary(result.primary), result.replica && `### The replica \`${inputs.replica!.bucket}\`\n\n${pruneSummary(result.replica)}`].filter(Boolean).join('\n'),
  );
  asked.summarized = true;
  for (const done of [result.primary, result.replica]) if (done) assertNoFailures(done);
}
