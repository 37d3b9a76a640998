/** Kept in step with package.json by a unit test; recorded in every manifest. */
export const LIFEBOAT_VERSION = '1.0.0';

/**
 * The oldest Node.js major the CLI runs on: the one it is built and tested on, and package.json's
 * `engines` (a unit test keeps them equal). The actions run on the runner's node24.
 */
export const MINIMUM_NODE_MAJOR = 24;
