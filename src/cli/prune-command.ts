import { getPruneInputs, PRUNE_BINDING } from '../actions/prune/inputs.js';
import { loadPolicy } from '../engine/policy-file.js';
import { assertNoFailures, runPrune, toPruneOutput } from '../engine/prune/prune.js';
import { formatBytes } from '../engine/streams.js';
import { readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import { retentionFor } from '../domain/policy.js';
import type { CliCommand } from './command.js';

export const pruneCommand: CliCommand = {
  action: 'prune',
  summary: 'Delete the backups the retention rules no longer keep (--dry-run: show the plan only)',
  async run(read, { log, json, out }) {
    const request = readBindingRequest(read, PRUNE_BINDING);
    const inputs = getPruneInputs(read, request.draft);
    const policy = loadPolicy(inputs.policyFile, log);
    // The plan goes to stdout as soon as it is made, before anything is deleted (with --json, into the JSON).
    const printPlan = json ? () => undefined : (line: string) => out.write(line + '\n');
    const outcome = await withCliBinding(request, 'prune', log, async (bound) => {
      if (!inputs.dryRun) await bound.sweepStaleKeys();
      const primary = inputs.stores === 'replica' ? undefined : await runPrune({ ...inputs, bucket: bound.settings, policy, printPlan }, log);
      const replica = inputs.replica
        ? await runPrune({ ...inputs, bucket: inputs.replica, policy: { ...policy, retention: retentionFor(policy, 'replica') }, printPlan }, log)
        : undefined;
      return { primary, replica };
    });
    const result = outcome.primary ?? outcome.replica!;
    const text = json
      ? JSON.stringify(outcome.primary && outcome.replica ? { ...toPruneOutput(outcome.primary), replica: toPruneOutput(outcome.replica) } : toPruneOutput(result), null, 2) + '\n'
      : result.dryRun
        ? `Would delete ${result.plan.remove.length} backups and keep ${result.plan.keep.length}.\n`
        : `Deleted ${result.deleted.length} backups (${result.objectsDeleted} objects, ${formatBytes(result.bytesFreed)}); kept ${result.plan.keep.length}.\n`;
    // The CLI exits as soon as the command returns; a large --json report to a pipe must be flushed first.
    await new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
    for (const done of [outcome.primary, outcome.replica]) if (done) assertNoFailures(done);
    return 0;
  },
};
