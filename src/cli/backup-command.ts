import { runBackup } from '../engine/backup/backup.js';
import { cancellable } from '../engine/cancellation.js';
import { BACKUP_BINDING, boundBackupOptions, getBackupOptions } from '../actions/backup/inputs.js';
import { PLATFORM_INPUTS, readBindingRequest, withCliBinding } from '../actions/shared/binding.js';
import { MEDIA_INPUTS } from '../actions/shared/inputs.js';
import { BUCKET_FLAGS, type CliCommand } from './command.js';

export const backupCommand: CliCommand = {
  summary: 'Dump the database into the backup bucket, with a manifest',
  flags: [
    'space',
    'trigger',
    'database-url',
    'compression',
    'pg-dump-path',
    'row-counts',
    'progress-interval-seconds',
    'part-size-mb',
    ...BUCKET_FLAGS,
    ...MEDIA_INPUTS,
    ...PLATFORM_INPUTS,
  ],
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
