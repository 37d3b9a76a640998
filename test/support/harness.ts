/**
 * Helpers for integration tests: a fresh database and bucket per test, and running the shipped
 * bundles the way the Actions runner does (INPUT_* variables, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files, the exit code).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { inject } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');

export function postgresInfo() {
  return inject('postgres');
}

export function s3Info() {
  return inject('s3');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function dbUrl(database: string, base = postgresInfo()): string {
  const url = new URL(base.url);
  url.pathname = '/' + database;
  return url.toString();
}

export async function withClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

/** A new empty database on the test cluster; returns its URL. */
export async function createDatabase(prefix = 'db', baseUrl = postgresInfo().url): Promise<string> {
  const name = uniqueName(prefix).replace(/-/g, '_');
  await withClient(baseUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(baseUrl);
  url.pathname = '/' + name;
  return url.toString();
}

export function s3Client(): S3Client {
  const s3 = s3Info();
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function createBucket(prefix = 'bucket'): Promise<string> {
  const name = uniqueName(prefix);
  await s3Client().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

export async function listKeys(bucket: string, prefix = ''): Promise<{ key: string; size: number }[]> {
  const out: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await s3Client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

export async function getObjectBytes(bucket: string, key: string): Promise<Buffer> {
  const response = await s3Client().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** Open multipart uploads, read through the S3 API (ListMultipartUploads). */
export async function openMultipartUploads(bucket: string): Promise<string[]> {
  const result = await s3Client().send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (result.Uploads ?? []).map((u) => u.Key!);
}

/** Environment giving the S3 sandbox's credentials the standard AWS way. */
export function awsEnv(): Record<string, string> {
  const s3 = s3Info();
  return { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region };
}

export interface BundleRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** Everything the step printed or wrote: for secret checks. */
  everything: string;
}

/** Parses the GITHUB_OUTPUT file format: name<<delimiter\nvalue\ndelimiter. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (match) {
      const [, name, delimiter] = match;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i]!);
      outputs[name!] = value.join('\n');
    } else if (lines[i]!.includes('=')) {
      const [name, ...rest] = lines[i]!.split('=');
      outputs[name!] = rest.join('=');
    }
  }
  return outputs;
}

function runProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** A clean environment: no INPUT_*, no GITHUB_*, nothing from the developer's shell that could leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key]) env[key] = process.env[key];
  return env;
}

export interface StepRun extends BundleRun {
  /** The GITHUB_STATE file as written. */
  stateText: string;
  /** Its entries (the last value of a name wins, as in the runner). */
  state: Record<string, string>;
}

export interface RunningStep {
  child: ChildProcess;
  stateFile: string;
  /** The state written so far. */
  currentState(): Record<string, string>;
  done: Promise<StepRun>;
}

export function startStep(
  bundle: string,
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; state?: Record<string, string> } = {},
): RunningStep {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-step-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  const stateFile = join(dir, 'state');
  for (const file of [outputFile, summaryFile, stateFile]) writeFileSync(file, '');
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    RUNNER_TEMP: dir,
    ...options.env,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value;
  const child = spawn(process.execPath, [join(ROOT, 'dist', bundle, 'index.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<StepRun>((resolve) => {
    child.on('close', (code) => {
      const outputText = readFileSync(outputFile, 'utf8');
      const summary = readFileSync(summaryFile, 'utf8');
      const stateText = readFileSync(stateFile, 'utf8');
      resolve({
        code,
        stdout,
        stderr,
        outputs: parseOutputFile(outputText),
        summary,
        stateText,
        state: parseOutputFile(stateText),
        everything: [stdout, stderr, outputText, summary, stateText].join('\n'),
      });
    });
  });
  return { child, stateFile, currentState: () => parseOutputFile(readFileSync(stateFile, 'utf8')), done };
}

/** Runs one action bundle to completion, as the runner runs a main step. */
export function runActionBundle(action: string, inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Promise<StepRun> {
  return startStep(action, inputs, { env: extraEnv }).done;
}

/** What a person sees of a step: the runner consumes ::add-mask:: commands instead of printing them. */
export function visibleOutput(run: { everything: string }): string {
  return run.everything
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

export async function runCli(args: string[], extraEnv: Record<string, string> = {}) {
  const result = await runProcess([join(ROOT, 'dist', 'cli', 'index.js'), ...args], { ...baseEnv(), ...extraEnv });
  return { ...result, everything: result.stdout + '\n' + result.stderr };
}

export function bucketInputs(bucket: string): Record<string, string> {
  return { 'backup-bucket': bucket, 's3-endpoint': s3Info().endpoint, 's3-region': s3Info().region };
}
