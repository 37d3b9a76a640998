/**
 * Every entry bundle (the six actions and the shared post step) exports `run`, as @github/local-action
 * expects: it imports the module and calls `run`. Importing must run nothing, and `run` must mask
 * secrets and fail the step with ::error:: exactly as the runner's `node dist/<name>/index.js` does.
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runActionBundle } from '../support/harness.js';

const SECRET = 'entry-point-secret-7c1e9b';

/** Inputs that fail after a secret is registered: binding cloudfoundry with the account's password, and no cf-api. */
const FAILING: Record<string, { inputs: Record<string, string>; state?: Record<string, string>; error: RegExp }> = {
  backup: {
    inputs: { space: 'dev', binding: 'cloudfoundry', 'cf-database-instance': 'db', 'cf-username': 'robot', 'cf-password': SECRET },
    error: /lifeboat backup failed: Input 'cf-api' is required/,
  },
  list: { inputs: { binding: 'cloudfoundry', 'cf-username': 'robot', 'cf-password': SECRET }, error: /lifeboat list failed: Input 'cf-api' is required/ },
  restore: {
    inputs: { 'source-space': 'production', 'target-space': 'staging', binding: 'cloudfoundry', 'cf-database-instance': 'db', 'cf-username': 'robot', 'cf-password': SECRET },
    error: /lifeboat restore failed: Input 'cf-api' is required/,
  },
  prune: { inputs: { binding: 'cloudfoundry', 'cf-username': 'robot', 'cf-password': SECRET }, error: /lifeboat prune failed: Input 'cf-api' is required/ },
  check: { inputs: { binding: 'cloudfoundry', 'cf-username': 'robot', 'cf-password': SECRET }, error: /lifeboat check failed: Input 'cf-api' is required/ },
  drill: {
    inputs: { space: 'production', 'database-url': 'postgres://u:p@127.0.0.1:1/postgres', binding: 'cloudfoundry', 'cf-username': 'robot', 'cf-password': SECRET },
    error: /lifeboat drill failed: Input 'cf-api' is required/,
  },
  // The post step with a key left by main, and only the username: it registers it, then cannot delete the key.
  unbind: {
    inputs: { 'cf-username': SECRET },
    state: {
      'lifeboat-binding': JSON.stringify({ v: 1, api: 'https://api.example.test', org: 'o', space: 's', keys: [{ name: 'lifeboat-x', instance: 'bucket', state: 'created' }] }),
    },
    error: /lifeboat unbind failed: Cannot delete the service keys/,
  },
};

function inputEnv(inputs: Record<string, string>, state: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, GITHUB_ACTIONS: 'true' };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  for (const [name, value] of Object.entries(state)) env[`STATE_${name}`] = value;
  return env;
}

/** Imports a bundle as @github/local-action does, then calls its `run`. */
function importAndRun(bundle: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string }> {
  const url = pathToFileURL(join(ROOT, 'dist', bundle, 'index.js')).href;
  const script = `const m = await import(${JSON.stringify(url)}); console.log('imported, run is a ' + typeof m.run); await m.run(); console.log('run returned, exitCode ' + process.exitCode);`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stdout += d.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
  });
}

describe.each(Object.keys(FAILING))('dist/%s', (bundle) => {
  const { inputs, state, error } = FAILING[bundle]!;

  it('imported, runs nothing until run() is called; run() masks the secret and fails with one ::error::', async () => {
    const { code, stdout } = await importAndRun(bundle, inputEnv(inputs, state));
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('imported, run is a function');
    expect(lines).toContain(`::add-mask::${SECRET}`);
    const errors = lines.filter((l) => l.startsWith('::error::'));
    expect(errors.filter((l) => /^::error::lifeboat \w+ failed: /.test(l))).toHaveLength(1);
    expect(errors.find((l) => /^::error::lifeboat \w+ failed: /.test(l))).toMatch(error);
    // The mask comes before anything could print the secret, and nothing else prints it.
    expect(lines.findIndex((l) => l === `::add-mask::${SECRET}`)).toBeLessThan(lines.findIndex((l) => l.startsWith('::error::')));
    expect(lines.filter((l) => l.includes(SECRET) && l !== `::add-mask::${SECRET}`)).toEqual([]);
    // run() returned instead of exiting the importer's process.
    expect(lines).toContain('run returned, exitCode 1');
    expect(code).toBe(1);
  });

  it('run by the runner as a script, fails the same way and exits 1', async () => {
    const run = await runActionBundle(bundle, inputs, Object.fromEntries(Object.entries(state ?? {}).map(([k, v]) => [`STATE_${k}`, v])));
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`::add-mask::${SECRET}`);
    expect(run.stdout.split('\n').filter((l) => /^::error::lifeboat \w+ failed: /.test(l))).toHaveLength(1);
    expect(run.stdout).toMatch(error);
  });
});
