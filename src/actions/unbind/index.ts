/** Entry point of the post step (dist/unbind) of the actions that bind their bucket: deletes their service keys. */
import { runAction } from '../shared/toolkit.js';
import { post } from './post.js';

void runAction('unbind', post);
