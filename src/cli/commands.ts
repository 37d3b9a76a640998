/** The CLI's commands, one module each. */
import { backupCommand } from './backup-command.js';
import { checkCommand } from './check-command.js';
import { drillCommand } from './drill-command.js';
import type { CliCommand } from './command.js';
import { listCommand } from './list-command.js';
import { restoreCommand } from './restore-command.js';
import { pruneCommand } from './prune-command.js';
import { copyCommand } from './copy-command.js';

export const COMMANDS: Record<string, CliCommand> = {
  backup: backupCommand,
  list: listCommand,
  restore: restoreCommand,
  prune: pruneCommand,
  check: checkCommand,
  drill: drillCommand,
  copy: copyCommand,
};
