/**
 * What a newcomer and a release need from the repository itself: the files a project is expected to
 * have, a release workflow that does what it says, versions that agree, and a release check that refuses what
 * it should.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIFEBOAT_VERSION } from '../../src/engine/version.js';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('the repository has what a release needs', () => {
  it.each(['LICENSE', 'CHANGELOG.md', 'SECURITY.md', 'CONTRIBUTING.md', '.github/dependabot.yml', '.github/workflows/release.yml'])('%s exists', (path) => {
    expect(existsSync(join(ROOT, path))).toBe(true);
  });

  it('the licence is the MIT licence package.json names, and the author is named', () => {
    const pkg = JSON.parse(read('package.json')) as { license: string; author?: string; version: string };
    expect(pkg.license).toBe('MIT');
    expect(read('LICENSE')).toMatch(/^MIT License/);
    expect(pkg.author).toBeTruthy();
    for (const file of ['action.yml', ...readdirSync(join(ROOT, 'actions')).map((a) => `actions/${a}/action.yml`)]) {
      expect(read(file), file).toMatch(new RegExp(`^author: '${pkg.author}'$`, 'm'));
    }
  });

  it('the version recorded in manifests is package.json\'s, and CHANGELOG.md has a section for it', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    expect(LIFEBOAT_VERSION).toBe(pkg.version);
    expect(read('CHANGELOG.md')).toContain(`## [${pkg.version}]`);
  });

  it('dependabot updates npm packages and GitHub Actions', () => {
    const text = read('.github/dependabot.yml');
    expect(text).toMatch(/package-ecosystem: npm/);
    expect(text).toMatch(/package-ecosystem: github-actions/);
  });
});

// Every workflow, the release workflow included, passes actionlint in metadata.test.ts.
describe('the release workflow', () => {
  it('the release tags vX.Y.Z, moves the major tag, and runs what CI runs first', () => {
    const text = read('.github/workflows/release.yml');
    expect(text).toMatch(/git push origin "refs\/tags\/v\$VERSION"/);
    expect(text).toMatch(/git push --force origin "refs\/tags\/\$major"/);
    expect(text.indexOf('bash .ci/run')).toBeGreaterThan(0);
    expect(text.indexOf('bash .ci/run')).toBeLessThan(text.indexOf('git tag'));
    // The version reaches the shell through the environment, never pasted into a script.
    expect(text).not.toMatch(/run:.*\$\{\{\s*inputs\.version/);
  });
});

describe('scripts/release-check.mjs', () => {
  const check = (...args: string[]) => spawnSync(process.execPath, ['scripts/release-check.mjs', ...args], { cwd: ROOT, encoding: 'utf8' });
  const version = (JSON.parse(read('package.json')) as { version: string }).version;

  it('accepts the version package.json and CHANGELOG.md agree on', () => {
    const run = check(version);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain(`v${version} is ready (major tag v${version.split('.')[0]})`);
  });

  it.each([
    ['not X.Y.Z', 'v1', /must be X\.Y\.Z/],
    ['a version package.json does not say', '9.9.9', /package\.json says/],
  ])('refuses %s', (_case, given, message) => {
    const run = check(given);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(message);
  });
});
