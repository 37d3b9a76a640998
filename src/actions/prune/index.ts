/** Entry point of the prune action, which has not landed yet: it fails clearly rather than pretending. */
import { LifeboatError } from '../../engine/errors.js';
import { runAction } from '../shared/toolkit.js';

void runAction('prune', async () => {
  throw new LifeboatError('The prune action is not available yet in this version of Lifeboat. Use backup and list for now.');
});
