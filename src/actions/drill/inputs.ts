import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseBackupId } from '../../domain/backup-id.js';
import { parseAssertions, parseSampleSize, type Assertion } from '../../domain/drill.js';
import { errorMessage, InputError } from '../../engine/errors.js';
import type { DrillOptions } from '../../engine/drill/drill.js';
import type { BucketSettings } from '../../engine/s3/client.js';
import { readKeyInputs } from '../shared/key-inputs.js';
import { bucketSettings, optional, optionalTriggerFilter, required, secretInput, spaceName, type InputReader } from '../shared/inputs.js';

export const DrillOutputs = {
  BackupId: 'backup-id',
  RtoSeconds: 'rto-seconds',
  Assertions: 'assertions',
  Status: 'status',
} as const;

function readAssertions(read: InputReader, env: NodeJS.ProcessEnv): Assertion[] {
  const inline = optional(read, 'assertions');
  const file = optional(read, 'assertions-file');
  if (inline && file) throw new InputError("Inputs 'assertions' and 'assertions-file' are both set; give the assertions one way.");
  if (!inline && !file) return [];
  let text = inline ?? '';
  const input = inline ? 'assertions' : 'assertions-file';
  if (file) {
    const path = isAbsolute(file) ? file : resolve(env.GITHUB_WORKSPACE ?? process.cwd(), file);
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new InputError(`Input 'assertions-file' is '${file}', which cannot be read (${errorMessage(error)}). Give the path of an SQL file, relative to the workspace.`);
    }
  }
  let assertions: Assertion[];
  try {
    assertions = parseAssertions(text);
  } catch (error) {
    throw new InputError(`Input '${input}': ${errorMessage(error)}`);
  }
  if (!assertions.length) throw new InputError(`Input '${input}' holds no query. Write each assertion as a query ending with ';', e.g. SELECT count(*) > 0 FROM audit;`);
  return assertions;
}

/** `bucket` defaults to the bucket inputs (binding: none); with binding pass readBucketRequest(read).draft. */
export function getDrillOptions(read: InputReader, env: NodeJS.ProcessEnv = process.env, bucket?: BucketSettings): DrillOptions {
  const databaseUrl = secretInput(read, 'database-url');
  if (!databaseUrl) {
    throw new InputError(
      "Input 'database-url' is required but was not given: a connection to the server where the drill creates its scratch database (its role needs CREATEDB). For example: database-url: ${{ secrets.DRILL_DATABASE_URL }}",
    );
  }
  const backupId = optional(read, 'backup-id') ?? 'latest';
  if (backupId !== 'latest' && !parseBackupId(backupId)) {
    throw new InputError(`Input 'backup-id' is '${backupId}', which is neither 'latest' nor a Lifeboat backup id (such as 2026-11-21T020000.000Z-nightly-7f3a). See the list action for the ids.`);
  }
  const trigger = optionalTriggerFilter(read);
  if (trigger && backupId !== 'latest') throw new InputError(`Input 'trigger' chooses which backup 'latest' means; with an explicit 'backup-id' (${backupId}) leave it out.`);
  const sampleText = optional(read, 'media-sample') ?? '20';
  const mediaSample = parseSampleSize(sampleText);
  if (mediaSample === undefined) throw new InputError(`Input 'media-sample' is '${sampleText}'; it must be a whole number of objects (0 for none) or 'all'.`);
  const drillDatabase = optional(read, 'drill-database');
  if (drillDatabase !== undefined && !/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/.test(drillDatabase)) {
    throw new InputError(`Input 'drill-database' is '${drillDatabase}', which is not a plain database name (letters, digits, '_', '$' and '-', up to 63 characters).`);
  }
  const keys = readKeyInputs(read);
  return {
    space: spaceName(required(read, 'space', 'production')),
    backupId,
    ...(trigger ? { trigger } : {}),
    databaseUrl,
    ...(drillDatabase ? { drillDatabase } : {}),
    bucket: bucket ?? bucketSettings(read),
    assertions: readAssertions(read, env),
    mediaSample,
    pgRestorePath: optional(read, 'pg-restore-path'),
    policyFile: optional(read, 'policy-file'),
    ...(keys ? { keys } : {}),
    env,
  };
}
