/** The integration tests' global setup with Ceph's RADOS Gateway as the S3 server (see global-setup.ts). */
import type { TestProject } from 'vitest/node';
import { setupWith } from './global-setup.js';

export default function setup(project: TestProject) {
  return setupWith(project, 'rgw');
}
