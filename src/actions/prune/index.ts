/** Entry point of the prune action. */
import { runAction } from '../shared/toolkit.js';
import { run } from './run.js';

void runAction('prune', run);
