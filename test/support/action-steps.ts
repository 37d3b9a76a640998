/**
 * Running an action's main step and then its post step the way the runner does: the main step
 * writes GITHUB_STATE (name<<delimiter\nvalue\ndelimiter, the same format as GITHUB_OUTPUT), and
 * the post step gets each entry as a STATE_<name> variable, with the same INPUT_* variables.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOutputFile, ROOT, type BundleRun } from './harness.js';

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

/** A clean environment: nothing from the developer's shell that could leak in. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[key]) env[key] = process.env[key];
  return env;
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

/** Runs an action's main step (dist/<action>). */
export function runMainStep(action: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<StepRun> {
  return startStep(action, inputs, { env }).done;
}

/** Runs the post step (dist/unbind) with the state a main step left, and the same inputs. */
export function runPostStep(inputs: Record<string, string>, state: Record<string, string>, env: Record<string, string> = {}): Promise<StepRun> {
  return startStep('unbind', inputs, { env, state }).done;
}
