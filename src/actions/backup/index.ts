/** Entry point of the backup action (actions/backup and the root action). */
import { runAction } from '../shared/toolkit.js';
import { run } from './run.js';

void runAction('backup', run);
