import type { Logger } from '../engine/logger.js';
import type { InputReader } from '../actions/shared/inputs.js';

export const BUCKET_FLAGS = ['backup-bucket', 'backup-prefix', 's3-endpoint', 's3-region', 'aws-access-key-id', 'aws-secret-access-key', 'aws-session-token'];

/** One CLI command: its flags are the action's input names, read through the same input parsing. */
export interface CliCommand {
  summary: string;
  flags: string[];
  /** Extra boolean flags (besides --json and --verbose), e.g. --dry-run. */
  switches?: string[];
  run(read: InputReader, context: { log: Logger; json: boolean; out: NodeJS.WritableStream }): Promise<number>;
}
