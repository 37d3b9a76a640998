#!/usr/bin/env node
/**
 * The lifeboat CLI: the same operations as the actions, for cron, a Cloud Foundry task or a laptop.
 * Every action input is a flag of the same name (--database-url), or an environment variable
 * LIFEBOAT_<NAME> (LIFEBOAT_DATABASE_URL), which keeps secrets out of the process list.
 *
 * The surface decides how messages name inputs: the engine writes them in the actions' words
 * ('backup-bucket'), and this file alone shows them in the CLI's (--backup-bucket), through cliWording,
 * for errors and log lines alike.
 *
 * Exit codes (EXIT_CODES in help.ts, docs/cli.md): 0 done, 1 failed or refused, 2 usage error, 130/143 interrupted.
 */
// First, before the modules below load: keeps V8's heap close to what the process holds (src/engine/heap-bound.ts).
import '../engine/heap-bound.js';
import { didYouMean, nodeVersionProblem, parseArgs } from '../domain/cli-args.js';
import { cliWording, envName, type InputNames } from '../domain/input-wording.js';
import { CancelledError } from '../engine/cancellation.js';
import { errorMessage, InputError } from '../engine/errors.js';
import { consoleLogger, type Logger } from '../engine/logger.js';
import { redact } from '../engine/secrets.js';
import { LIFEBOAT_VERSION, MINIMUM_NODE_MAJOR } from '../engine/version.js';
import type { InputReader } from '../actions/shared/inputs.js';
import { commandFlags } from './command.js';
import { COMMANDS } from './commands.js';
import { commandHelp, inputNames, overview } from './help.js';

const USAGE = 2;
const NO_NAMES: InputNames = { inputs: new Set(), switches: new Set() };

/** Thrown for a command line that cannot be run; printed with a pointer to the help, exit 2. */
class UsageProblem extends Error {}

/** A logger that words what it logs for the CLI. */
function wordedLogger(log: Logger, names: InputNames): Logger {
  return {
    info: (m) => log.info(cliWording(m, names)),
    warning: (m) => log.warning(cliWording(m, names)),
    debug: (m) => log.debug(cliWording(m, names)),
    group: (title, body) => log.group(cliWording(title, names), body),
  };
}

function commandNamed(name: string) {
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageProblem(`Unknown command '${name}'.${didYouMean(name, Object.keys(COMMANDS))} The commands are ${Object.keys(COMMANDS).join(', ')}.`);
  return command;
}

async function main(argv: string[], names: { current: InputNames; help: string }): Promise<number> {
  const tooOld = nodeVersionProblem(process.version, MINIMUM_NODE_MAJOR);
  if (tooOld) {
    process.stderr.write(`lifeboat: ${tooOld}\n`);
    return USAGE;
  }
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(overview(COMMANDS) + '\n');
    return USAGE;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`lifeboat ${LIFEBOAT_VERSION}\n`);
    return 0;
  }
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    process.stdout.write((topic === undefined ? overview(COMMANDS) : commandHelp(topic, commandNamed(topic))) + '\n');
    return 0;
  }
  if (name.startsWith('-')) throw new UsageProblem(`'${name}' comes before a command. Put flags after it, as in: lifeboat backup --space production.`);
  const command = commandNamed(name);
  names.help = `lifeboat ${name} --help`;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(commandHelp(name, command) + '\n');
    return 0;
  }
  names.current = inputNames(command);
  const parsed = parseArgs(rest, commandFlags(command), name);
  if (!parsed.ok) throw new UsageProblem(parsed.problem);
  const { values } = parsed;
  // A switch reads as the input value 'true' or 'false', so the action's own input parsing applies unchanged.
  const read: InputReader = (flag) => values.get(flag) ?? process.env[envName(flag)];
  const verbose = values.get('verbose') === 'true';
  const log = wordedLogger(consoleLogger({ verbose }), names.current);
  return command.run(read, { log, json: values.get('json') === 'true', out: process.stdout });
}

/** Exits once stdout and stderr have flushed: a large --json report written to a pipe must not be cut short. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const names = { current: NO_NAMES, help: 'lifeboat --help' };
main(process.argv.slice(2), names).then(exitAfterFlush, (error: unknown) => {
  const usage = error instanceof UsageProblem || error instanceof InputError;
  const message = error instanceof UsageProblem ? error.message : cliWording(redact(errorMessage(error)), names.current);
  process.stderr.write(`lifeboat: ${message}\n${usage ? `Run '${names.help}' for help.\n` : ''}`);
  // A cancelled run exits as the signal asked (130 after SIGINT, 143 after SIGTERM), never 0.
  exitAfterFlush(error instanceof CancelledError ? error.exitCode : usage ? USAGE : 1);
});
