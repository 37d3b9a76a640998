import { boundRestoreOptions, getRestoreOptions, restoreBinding } from '../actions/restore/inputs.js';
import { cancellable } from '../engine/cancellation.js';
import { authorizeRestoreRun, runRestore } from '../engine/restore/restore.js';
import { readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import { booleanInput } from '../actions/shared/inputs.js';
import type { CliCommand } from './command.js';

/**
 * `lifeboat restore`: the restore action's inputs as flags. Outside GitHub Actions a run counts as
 * manual, so when the policy names an admin team, --github-token must be a token of the person running
 * it (read:org): its owner, found through GET /user, must be an active member of that team.
 * `--automated` declares an unattended run (cron, a platform task) instead: it is honoured only for the
 * pairs the policy marks `automated: true` (classifyInvocation in src/domain/restore-authorization.ts).
 */
export const restoreCommand: CliCommand = {
  action: 'restore',
  summary: 'Replace the target database with a verified backup (destructive; checked against the policy)',
  cliOnly: [
    {
      name: 'automated',
      switch: true,
      description:
        "Declare an unattended run (cron, a Cloud Foundry task). Honoured only for restores the policy marks 'automated: true' (by default production → staging), which then need no --github-token; any other pair is refused. A protected target still needs --confirm.",
    },
  ],
  async run(read, { log, json, out }) {
    const request = readBindingRequest(read, restoreBinding(read));
    const parsed = getRestoreOptions(read, process.env, request.draft, request.fromBinding);
    const options = booleanInput(read, 'automated', false) ? { ...parsed, caller: { ...parsed.caller, automated: true } } : parsed;
    // Authorized before binding: a refused restore creates no credentials.
    const authorization = await authorizeRestoreRun(options, log);
    const result = await cancellable(log, { operation: 'restore', keepAccount: true }, (signal) =>
      withCliBinding(request, 'restore', log, (bound) => runRestore({ ...boundRestoreOptions(options, bound), signal }, log, authorization)),
    );
    if (json) {
      out.write(
        JSON.stringify(
          {
            backupId: result.manifest.id,
            sourceSpace: result.sourceSpace,
            targetSpace: result.targetSpace,
            target: result.target,
            method: result.method,
            preRestoreBackupId: result.preRestoreBackupId ?? null,
            verified: result.checks !== null,
            checks: result.checks,
            privileges: result.privileges,
            skippedGrantCount: result.skippedGrantCount,
            durationMs: result.durationMs,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      out.write(`${result.manifest.id}\n`);
    }
    return 0;
  },
};
