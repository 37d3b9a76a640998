#!/usr/bin/env node
// Builds one ncc bundle per entry point into dist/<name>/, two at a time (the machines have 2 cores).
// dist/ is committed; `npm run check-dist` rebuilds it and fails if anything differs.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATED_PATH, renderActionInputs } from './generate-cli-inputs.ts';

export const ENTRIES = {
  backup: 'src/actions/backup/index.ts',
  list: 'src/actions/list/index.ts',
  restore: 'src/actions/restore/index.ts',
  prune: 'src/actions/prune/index.ts',
  check: 'src/actions/check/index.ts',
  drill: 'src/actions/drill/index.ts',
  copy: 'src/actions/copy/index.ts',
  unbind: 'src/actions/unbind/index.ts',
  cli: 'src/cli/index.ts',
};

/**
 * Binaries ncc copies beside a bundle because a dependency may load them, and which Lifeboat does not
 * ship: ssh2's optional crypto addon and cpu-features (compiled by npm for the Node that ran the
 * install, not the runner's Node 24; ssh2 loads both inside try/catch and falls back to its pure-JS
 * code when they are missing), and ssh2's pagent.exe (Windows Pageant, never used). A bundle is
 * then JavaScript only, which is what a reviewer can read. Any other binary fails the build, so a
 * new native dependency is noticed rather than shipped.
 */
const OPTIONAL_BINARIES = new Set(['sshcrypto.node', 'cpufeatures.node', 'pagent.exe']);
const BINARY = /\.(node|exe|dll|so|dylib)$/;

function dropOptionalBinaries(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !BINARY.test(entry.name)) continue;
    const path = join(entry.parentPath, entry.name);
    if (!OPTIONAL_BINARIES.has(entry.name)) throw new Error(`ncc put the binary ${path} in the bundle; Lifeboat ships JavaScript only (see OPTIONAL_BINARIES in scripts/build.mjs).`);
    rmSync(path);
  }
  // Directories left empty by the removals (e.g. build/Release/).
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }).reverse()) {
    const path = join(entry.parentPath, entry.name);
    if (entry.isDirectory() && readdirSync(path).length === 0) rmSync(path, { recursive: true });
  }
}

/**
 * The bundles are ES modules, but some bundled CommonJS code reads __dirname or __filename, which ES
 * modules do not have, and ncc leaves them as they are (vercel/ncc#749). ssh2's pure-JS Poly1305
 * (emscripten, used because the native addon is not shipped) reads __dirname as soon as ssh2 loads,
 * so without this the bundle dies with "ReferenceError: __dirname is not defined". The usual interop
 * shim (as tsup and esbuild banners write it): both from import.meta.url, the bundle's own directory.
 */
const COMMONJS_GLOBALS_SHIM = [
  "import { dirname as __lifeboat_dirname } from 'node:path';",
  "import { fileURLToPath as __lifeboat_fileURLToPath } from 'node:url';",
  'const __filename = __lifeboat_fileURLToPath(import.meta.url);',
  'const __dirname = __lifeboat_dirname(__filename);',
  '',
].join('\n');

function addCommonJsGlobals(file) {
  const code = readFileSync(file, 'utf8');
  if (/\b(?:const|let|var)\s+__(?:dirname|filename)\b/.test(code)) throw new Error(`${file} already declares __dirname or __filename; check the shim in scripts/build.mjs.`);
  // After the CLI's #! line, which must stay first.
  const shebang = /^#!.*\n/.exec(code)?.[0] ?? '';
  writeFileSync(file, shebang + COMMONJS_GLOBALS_SHIM + code.slice(shebang.length));
}

// The CLI's flags and --help come from the action.yml files: regenerate them before bundling.
writeFileSync(GENERATED_PATH, renderActionInputs(process.cwd()));

const only = process.argv.slice(2);
const names = only.length ? only : Object.keys(ENTRIES);
if (!only.length) rmSync('dist', { recursive: true, force: true });

function build(name) {
  return new Promise((resolve, reject) => {
    rmSync(`dist/${name}`, { recursive: true, force: true });
    const child = spawn('npx', ['ncc', 'build', ENTRIES[name], '-o', `dist/${name}`, '--license', 'licenses.txt', '-q'], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`ncc failed for ${name} (exit ${code})`));
      try {
        dropOptionalBinaries(`dist/${name}`);
        addCommonJsGlobals(`dist/${name}/index.js`);
        resolve();
      } catch (error) {
        reject(error);
      }
    });
  });
}

const queue = [...names];
await Promise.all(
  [0, 1].map(async () => {
    while (queue.length) await build(queue.shift());
  }),
);
console.log(`built ${names.map((n) => `dist/${n}`).join(', ')}`);
