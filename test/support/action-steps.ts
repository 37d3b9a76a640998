/**
 * Running an action's main step and then its post step the way the runner does: the main step
 * writes GITHUB_STATE (name<<delimiter\nvalue\ndelimiter, the same format as GITHUB_OUTPUT), and
 * the post step gets each entry as a STATE_<name> variable, with the same INPUT_* variables.
 */
import { startStep, type StepRun } from './harness.js';

/** A main step is a bundle run as the runner runs it. */
export { runActionBundle as runMainStep, startStep, type RunningStep, type StepRun } from './harness.js';

/** Runs the post step (dist/unbind) with the state a main step left, and the same inputs. */
export function runPostStep(inputs: Record<string, string>, state: Record<string, string>, env: Record<string, string> = {}): Promise<StepRun> {
  return startStep('unbind', inputs, { env, state }).done;
}
