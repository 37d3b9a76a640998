import { boundRestoreOptions, getRestoreOptions, restoreBinding } from '../actions/restore/inputs.js';
import { cancellable } from '../engine/cancellation.js';
import { authorizeRestoreRun, runRestore } from '../engine/restore/restore.js';
import { PLATFORM_INPUTS, readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import { MEDIA_INPUTS } from '../actions/shared/inputs.js';
import { BUCKET_FLAGS, type CliCommand } from './command.js';

/**
 * `lifeboat restore`: the restore action's inputs as flags. Outside GitHub Actions a run counts as
 * manual, so when the policy names an admin team, --github-token must be a token of the person running
 * it (read:org): its owner, found through GET /user, must be an active member of that team.
 */
export const restoreCommand: CliCommand = {
  summary: 'Replace the target database with a verified backup (destructive; checked against the policy)',
  flags: [
    'source-space',
    'target-space',
    'backup-id',
    'trigger',
    'database-url',
    'github-token',
    'confirm',
    'policy-file',
    'jobs',
    'parallel-threshold-mb',
    'pg-restore-path',
    'privileges',
    ...BUCKET_FLAGS,
    ...MEDIA_INPUTS,
    'skip-media',
    ...PLATFORM_INPUTS,
  ],
  async run(read, { log, json, out }) {
    const request = readBindingRequest(read, restoreBinding(read));
    const options = getRestoreOptions(read, process.env, request.draft, request.fromBinding);
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
