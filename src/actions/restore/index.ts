/** Entry point of the restore action. */
import { runAction } from '../shared/toolkit.js';
import { run } from './run.js';

void runAction('restore', run);
