import { getCopyOptions } from '../actions/copy/inputs.js';
import { readBucketRequest, withCliBinding } from '../actions/shared/binding.js';
import { cancellable } from '../engine/cancellation.js';
import { runCopy } from '../engine/replica/copy.js';
import { formatBytes } from '../engine/streams.js';
import type { CliCommand } from './command.js';

export const copyCommand: CliCommand = {
  action: 'copy',
  summary: 'Copy complete backups to a replica bucket (verified; manifest last; incremental)',
  async run(read, { log, json, out }) {
    const request = readBucketRequest(read);
    const options = getCopyOptions(read, process.env, request.draft);
    const result = await cancellable(log, { operation: 'copy' }, (signal) =>
      withCliBinding(request, 'copy', log, (bound) => runCopy({ ...options, primary: bound.settings, signal }, log)),
    );
    const copied = result.backups.filter((b) => b.state === 'copied');
    const text = json
      ? JSON.stringify({ copied: copied.map((b) => `${b.space}/${b.id}`), present: result.backups.filter((b) => b.state === 'present').map((b) => `${b.space}/${b.id}`), artifacts: result.artifacts, media: result.media }, null, 2) + '\n'
      : `Copied ${copied.length} backups to ${result.replica} (${formatBytes(result.artifacts.bytes + result.media.bytes)}); ${result.backups.length - copied.length} were already there.\n`;
    await new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
    return 0;
  },
};
