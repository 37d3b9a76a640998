import { runBackup } from '../engine/backup/backup.js';
import { cancellable } from '../engine/cancellation.js';
import { BACKUP_BINDING, boundBackupOptions, getBackupOptions } from '../actions/backup/inputs.js';
import { readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import { replicaSettings } from '../actions/shared/inputs.js';
import { copyAfterBackup } from '../engine/replica/after-backup.js';
import type { CliCommand } from './command.js';

export const backupCommand: CliCommand = {
  action: 'backup',
  summary: 'Dump the database into the backup bucket, with a manifest',
  async run(read, { log, json, out }) {
    const request = readBindingRequest(read, BACKUP_BINDING);
    const options = getBackupOptions(read, process.env, request.draft, request.fromBinding);
    const replica = replicaSettings(read);
    const { result, replicated } = await cancellable(log, { operation: 'backup' }, (signal) =>
      withCliBinding(request, 'backup', log, async (bound) => {
        const result = await runBackup({ ...boundBackupOptions(options, bound), signal }, log);
        const replicated = replica ? await copyAfterBackup(bound.settings, replica, result, log, { signal }) : undefined;
        return { result, replicated };
      }),
    );
    out.write(
      json ? JSON.stringify({ backupId: result.manifest.id, size: result.storedBytes, manifest: result.manifest }, null, 2) + '\n' : `${result.manifest.id}\n`,
    );
    // The backup id is printed either way: the backup is good even when its copy failed.
    if (replicated && 'failed' in replicated) throw replicated.failed;
    return 0;
  },
};
