import { cancellable } from '../engine/cancellation.js';
import { runDrill } from '../engine/drill/drill.js';
import { getDrillOptions } from '../actions/drill/inputs.js';
import { readBucketRequest, withCliBinding } from '../actions/shared/binding.js';
import type { CliCommand } from './command.js';

export const drillCommand: CliCommand = {
  action: 'drill',
  summary: 'Restore a backup into a scratch database, run assertions, report the RTO, drop it',
  async run(read, { log, json, out }) {
    const request = readBucketRequest(read);
    const options = getDrillOptions(read, process.env, request.draft);
    const result = await cancellable(log, { operation: 'drill', keepAccount: true }, (signal) =>
      withCliBinding(request, 'drill', log, (bound) => runDrill({ ...options, bucket: bound.settings, signal }, log)),
    );
    const report = {
      status: result.ok ? 'ok' : 'failed',
      space: result.space,
      backupId: result.backupId,
      rtoSeconds: result.rtoMs / 1000,
      tablesChecked: result.tablesChecked,
      assertions: result.assertions,
      media: result.media ?? null,
      cleanedUp: result.cleanedUp,
      droppedLeftovers: result.droppedLeftovers,
      problems: result.problems,
    };
    const text = json
      ? JSON.stringify(report, null, 2) + '\n'
      : [
          `Drill of ${result.space} ${result.backupId}: ${result.ok ? 'OK' : 'FAILED'}; RTO ${(result.rtoMs / 1000).toFixed(1)} s`,
          ...result.assertions.map((a) => `  ${a.ok ? 'ok  ' : 'FAIL'}  ${a.name}${a.ok ? '' : `: ${a.why}`}`),
          ...result.problems.map((p) => `  problem: ${p}`),
          '',
        ].join('\n');
    await new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
    return result.ok ? 0 : 1;
  },
};
