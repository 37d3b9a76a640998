import { runBackup } from '../engine/backup/backup.js';
import { cancellable } from '../engine/cancellation.js';
import { BACKUP_BINDING, boundBackupOptions, getBackupOptions } from '../actions/backup/inputs.js';
import { readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import type { CliCommand } from './command.js';

export const backupCommand: CliCommand = {
  action: 'backup',
  summary: 'Dump the database into the backup bucket, with a manifest',
  async run(read, { log, json, out }) {
    const request = readBindingRequest(read, BACKUP_BINDING);
    const options = getBackupOptions(read, process.env, request.draft, request.fromBinding);
    const result = await cancellable(log, { operation: 'backup' }, (signal) =>
      withCliBinding(request, 'backup', log, (bound) => runBackup({ ...boundBackupOptions(options, bound), signal }, log)),
    );
    out.write(
      json ? JSON.stringify({ backupId: result.manifest.id, size: result.storedBytes, manifest: result.manifest }, null, 2) + '\n' : `${result.manifest.id}\n`,
    );
    return 0;
  },
};
