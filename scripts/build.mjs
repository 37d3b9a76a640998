#!/usr/bin/env node
// Builds one ncc bundle per entry point into dist/<name>/, two at a time (the machines have 2 cores).
// dist/ is committed; `npm run check-dist` rebuilds it and fails if anything differs.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

export const ENTRIES = {
  backup: 'src/actions/backup/index.ts',
  list: 'src/actions/list/index.ts',
  restore: 'src/actions/restore/index.ts',
  prune: 'src/actions/prune/index.ts',
  unbind: 'src/actions/unbind/index.ts',
  cli: 'src/cli/index.ts',
};

const only = process.argv.slice(2);
const names = only.length ? only : Object.keys(ENTRIES);
if (!only.length) rmSync('dist', { recursive: true, force: true });

function build(name) {
  return new Promise((resolve, reject) => {
    rmSync(`dist/${name}`, { recursive: true, force: true });
    const child = spawn('npx', ['ncc', 'build', ENTRIES[name], '-o', `dist/${name}`, '--license', 'licenses.txt', '-q'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ncc failed for ${name} (exit ${code})`))));
  });
}

const queue = [...names];
await Promise.all(
  [0, 1].map(async () => {
    while (queue.length) await build(queue.shift());
  }),
);
console.log(`built ${names.map((n) => `dist/${n}`).join(', ')}`);
