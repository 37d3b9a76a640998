import { runList, toListOutput } from '../engine/list/list.js';
import { formatBytes } from '../engine/streams.js';
import { describeFilter, getListInputs } from '../actions/list/inputs.js';
import { readBucketRequest, withCliBinding } from '../actions/shared/binding.js';
import type { CliCommand } from './command.js';

export const listCommand: CliCommand = {
  action: 'list',
  summary: 'List backups, newest first',
  async run(read, { log, json, out }) {
    const request = readBucketRequest(read);
    const { filter, details: withDetails, replica } = getListInputs(read, request.draft);
    const { backups, latest, details } = await withCliBinding(request, 'list', log, ({ settings }) => runList(replica ?? settings, filter, { details: withDetails, inputName: replica ? 'replica-bucket' : undefined }));
    if (json) {
      const text = JSON.stringify({ backups: toListOutput(backups, details), latest: latest?.id ?? '' }, null, 2) + '\n';
      await new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
      return 0;
    }
    const title = describeFilter(filter);
    out.write(`Backups${title ? ` (${title})` : ''}, newest first; latest restorable: ${latest?.id ?? 'none'}\n`);
    for (const b of backups) {
      const state =
        b.status === 'complete' ? 'restorable' : b.status === 'invalid' ? `INVALID MANIFEST (not restorable): ${b.problem ?? ''}` : 'INCOMPLETE (not restorable)';
      const d = details?.get(b.id);
      const media = d?.media ? `  media ${d.media.objects} objects, ${d.media.newObjects} new / ${d.media.reusedObjects} reused` : '';
      out.write(`  ${b.id}  ${b.space.padEnd(12)} ${b.trigger.padEnd(11)} ${formatBytes(b.sizeBytes).padStart(10)}  ${state}${media}\n`);
    }
    if (!backups.length) out.write('  (none)\n');
    return 0;
  },
};
