#!/usr/bin/env node
/**
 * Before a release: checks that VERSION is X.Y.Z, that package.json says the same, that CHANGELOG.md
 * has a section "## [X.Y.Z]" with something in it, and that the tag does not exist yet. Writes that
 * section (the release notes) to the file given as the second argument.
 *
 *   node scripts/release-check.mjs 1.2.0 notes.md
 *
 * Exit status 1, with the reason on stderr, when anything is off.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [version, notesFile] = process.argv.slice(2);
const fail = (message) => {
  process.stderr.write(`release-check: ${message}\n`);
  process.exit(1);
};
if (!version || !/^\d+\.\d+\.\d+$/.test(version)) fail(`the version must be X.Y.Z (three numbers), not '${version ?? ''}'.`);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
if (pkg.version !== version) fail(`package.json says ${pkg.version}; set "version": "${version}" there (and rebuild dist/) first.`);
const changelog = readFileSync('CHANGELOG.md', 'utf8');
const heading = new RegExp(`^## \\[${version.replace(/\./g, '\\.')}\\][^\\n]*$`, 'm');
const match = heading.exec(changelog);
if (!match) fail(`CHANGELOG.md has no section '## [${version}]'; move the Unreleased notes under it.`);
const rest = changelog.slice(match.index + match[0].length);
const next = rest.search(/^## \[/m);
const notes = (next < 0 ? rest : rest.slice(0, next)).trim();
if (!notes) fail(`CHANGELOG.md's section for ${version} is empty.`);
let tagExists = false;
try {
  execFileSync('git', ['rev-parse', '--verify', '--quiet', `refs/tags/v${version}`], { stdio: 'ignore' });
  tagExists = true;
} catch {
  // no such tag: good
}
if (tagExists) fail(`the tag v${version} exists already; releases are never re-tagged. Bump the version.`);
if (notesFile) writeFileSync(notesFile, notes + '\n');
process.stdout.write(`release-check: v${version} is ready (major tag v${version.split('.')[0]}).\n`);
