/**
 * Entry point of the copy action.
 * The runner runs this module as a script; @github/local-action imports it and calls the exported `run`,
 * which masks secrets and fails the step (::error::) the same way. Importing it runs nothing.
 */
import { isEntryModule, runAction, runStep } from '../shared/toolkit.js';
import { run as main } from './run.js';

export function run(): Promise<void> {
  return runStep('copy', main);
}

if (isEntryModule(import.meta.url)) void runAction('copy', main);
