/**
 * Entry point of the post step (dist/unbind) of the actions that bind their bucket: deletes their service keys.
 * The runner runs this module as a script; @github/local-action imports it and calls the exported `run`,
 * which masks secrets and fails the step (::error::) the same way. Importing it runs nothing.
 */
import { isEntryModule, runAction, runStep } from '../shared/toolkit.js';
import { post as main } from './post.js';

export function run(): Promise<void> {
  return runStep('unbind', main);
}

if (isEntryModule(import.meta.url)) void runAction('unbind', main);
