/** Check, then its machine outputs: shared by the action and the CLI. */
import { writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { defaultFreshness } from '../../domain/freshness.js';
import { now } from '../clock.js';
import { LifeboatError, errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import { loadPolicy } from '../policy-file.js';
import type { BucketSettings } from '../s3/client.js';
import type { StaleKey } from './check.js';
import { runCheck, type CheckResult } from './check.js';
import { checkFamilies, metricsDocument, prometheusRegistry, pushToGateway } from './export.js';

export interface CheckRun {
  space?: string;
  commit?: string;
  verifyLast: number;
  policyFile?: string;
  metricsFile?: string;
  prometheusFile?: string;
  pushgatewayUrl?: string;
}

export interface CheckOutcome {
  result: CheckResult;
  document: ReturnType<typeof metricsDocument>;
  prometheus: string;
}

/**
 * Runs the check against a bound bucket and writes its files and push. A file or push that fails is a
 * problem of the check too (the monitoring would silently go stale otherwise), after the others are done.
 */
export async function checkAndExport(
  run: CheckRun,
  bucket: BucketSettings,
  log: Logger,
  findStaleKeys?: (at: Date) => Promise<StaleKey[] | undefined>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CheckOutcome> {
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const policy = loadPolicy(run.policyFile, log, workspace);
  const rules = policy.freshness ?? defaultFreshness(policy.spaces);
  const at = now(env);
  const result = await runCheck({ bucket, space: run.space, verifyLast: run.verifyLast, commit: run.commit, rules, now: at }, log);
  if (findStaleKeys) {
    try {
      result.staleKeys = await findStaleKeys(at);
    } catch (error) {
      result.warnings.push(`Could not list the service keys to look for stale ones: ${errorMessage(error)}`);
    }
    for (const k of result.staleKeys ?? []) log.warning(`Stale service key '${k.name}' on '${k.instance}' (created ${k.createdAt ?? 'at an unknown time'}): a crashed run left it.`);
  }
  const registry = prometheusRegistry(checkFamilies(result));
  const prometheus = await registry.metrics();
  const document = metricsDocument(result);
  const where = (file: string) => (isAbsolute(file) ? file : resolve(workspace, file));
  const failures: string[] = [];
  if (run.metricsFile) {
    await writeFile(where(run.metricsFile), JSON.stringify(document, null, 2) + '\n').catch((error: unknown) =>
      failures.push(`Could not write 'metrics-file' ${run.metricsFile}: ${errorMessage(error)}`),
    );
  }
  if (run.prometheusFile) {
    await writeFile(where(run.prometheusFile), prometheus).catch((error: unknown) => failures.push(`Could not write 'prometheus-file' ${run.prometheusFile}: ${errorMessage(error)}`));
  }
  if (run.pushgatewayUrl) {
    try {
      const pushed = await pushToGateway(run.pushgatewayUrl, registry, bucket.bucket);
      log.info(`Metrics pushed to ${pushed}.`);
    } catch (error) {
      failures.push(error instanceof LifeboatError ? error.message : errorMessage(error));
    }
  }
  if (failures.length) {
    result.problems.push(...failures);
    result.ok = false;
  }
  return { result, document: metricsDocument(result), prometheus };
}
