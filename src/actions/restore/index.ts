/** Entry point of the restore action, which has not landed yet: it fails clearly rather than pretending. */
import { LifeboatError } from '../../engine/errors.js';
import { runAction } from '../shared/toolkit.js';

void runAction('restore', async () => {
  throw new LifeboatError('The restore action is not available yet in this version of Lifeboat. Use backup and list for now.');
});
