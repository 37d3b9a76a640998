/** Kept in step with package.json by a unit test; recorded in every manifest. */
export const LIFEBOAT_VERSION = '1.0.0';
