import { checkAndExport } from '../engine/check/outputs.js';
import { getCheckInputs } from '../actions/check/inputs.js';
import { readBucketRequest, withCliBinding } from '../actions/shared/binding.js';
import type { CliCommand } from './command.js';

export const checkCommand: CliCommand = {
  action: 'check',
  summary: 'Check freshness and stored bytes; exit 1 when backups are not as the policy expects',
  async run(read, { log, json, out }) {
    const request = readBucketRequest(read);
    const inputs = getCheckInputs(read, request.draft);
    const { result, document } = await withCliBinding(request, 'check', log, (bound) =>
      checkAndExport(inputs, bound.settings, log, bound.session ? async (at) => (await bound.sweepStaleKeys({ reportOnly: true, now: at }))?.stale ?? [] : undefined),
    );
    const text = json
      ? JSON.stringify(document, null, 2) + '\n'
      : [
          `Check of ${result.location}: ${result.ok ? 'OK' : `FAILED (${result.problems.length} problem(s))`}`,
          ...result.problems.map((p) => `  problem: ${p}`),
          ...result.warnings.map((w) => `  warning: ${w}`),
          ...result.findings.map((f) => `  ${f.skipped ? '-' : f.ok ? 'ok' : 'FAIL'}  ${f.message}`),
          '',
        ].join('\n');
    await new Promise<void>((resolve, reject) => out.write(text, (error) => (error ? reject(error) : resolve())));
    return result.ok ? 0 : 1;
  },
};
