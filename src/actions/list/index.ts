/** Entry point of the list action. */
import { runAction } from '../shared/toolkit.js';
import { run } from './run.js';

void runAction('list', run);
