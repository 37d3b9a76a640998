/**
 * The CLI's command line, parsed without side effects: flags are `--name value` or `--name=value`,
 * switches are `--name`, `--name=false` or `--no-name`. Anything else is a usage error whose message
 * says what was wrong and, for a near miss, which flag or command was probably meant.
 */

/**
 * The number of single-character insertions, deletions, substitutions and swaps of two neighbours that
 * turn `a` into `b` (optimal string alignment distance): 'bakcup' is 1 from 'backup', as a typist expects.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate closest to `word`, when it is close enough to be a likely typo: at most a third of the
 * word's length away (and at least 1, at most 3 edits). A candidate that contains the word whole
 * ('bucket' in 'backup-bucket') is the next best guess. Ties go to the earlier candidate.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= limit) return best;
  if (word.length >= 3) return candidates.find((c) => c.split('-').includes(word) || c.startsWith(word));
  return undefined;
}

/** " Did you mean --backup-bucket?" when a candidate is close; '' otherwise. */
export function didYouMean(word: string, candidates: readonly string[], prefix = ''): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` Did you mean ${prefix}${match}?`;
}

export interface FlagSpec {
  /** Flags that take a value. */
  values: readonly string[];
  /** Switches: true when given, with --name=false and --no-name to say false. */
  switches: readonly string[];
}

export type ParsedArgs = { ok: true; values: Map<string, string> } | { ok: false; problem: string };

const TRUE_WORDS = ['true', 'True', 'TRUE'];
const FALSE_WORDS = ['false', 'False', 'FALSE'];

/**
 * Parses a command's arguments. Values are kept as the strings an action input would have ('true' and
 * 'false' for switches), so the action's own input parsing applies to them unchanged. A flag given twice
 * is refused rather than letting the later one win silently: this tool deletes and overwrites data.
 */
export function parseArgs(args: readonly string[], spec: FlagSpec, command: string): ParsedArgs {
  const values = new Map<string, string>();
  const known = [...spec.values, ...spec.switches];
  const fail = (problem: string): ParsedArgs => ({ ok: false, problem });
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      const hint = arg.startsWith('-') ? ` Flags start with two dashes (--name).` : ` Every value follows its flag, as in --space production.`;
      return fail(`Unexpected argument '${arg}' for 'lifeboat ${command}'.${hint}`);
    }
    const equals = arg.indexOf('=');
    const written = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
    const inline = equals === -1 ? undefined : arg.slice(equals + 1);
    let name = written;
    let value: string;
    if (spec.values.includes(written)) {
      if (inline !== undefined) value = inline;
      else {
        const next = args[i + 1];
        if (next === undefined || next.startsWith('--')) return fail(`--${written} needs a value, as in --${written} <value>.`);
        value = next;
        i++;
      }
    } else if (spec.switches.includes(written)) {
      if (inline !== undefined) {
        if (![...TRUE_WORDS, ...FALSE_WORDS].includes(inline)) return fail(`--${written} is a switch; it takes true or false, not '${inline}'.`);
        value = TRUE_WORDS.includes(inline) ? 'true' : 'false';
      } else if ([...TRUE_WORDS, ...FALSE_WORDS].includes(args[i + 1] ?? '')) {
        // `--skip-media true`, as the input is written in a workflow: no positional arguments exist, so this is unambiguous.
        value = TRUE_WORDS.includes(args[++i]!) ? 'true' : 'false';
      } else value = 'true';
    } else if (written.startsWith('no-') && spec.switches.includes(written.slice(3)) && inline === undefined) {
      name = written.slice(3);
      value = 'false';
    } else {
      return fail(`Unknown flag --${written} for 'lifeboat ${command}'.${didYouMean(written, known, '--')}`);
    }
    if (values.has(name)) return fail(`--${name} is given twice; give it once.`);
    values.set(name, value);
  }
  return { ok: true, values };
}

/**
 * Why this Node.js cannot run Lifeboat, or undefined when it can. `version` is process.version ('v20.20.2').
 * The minimum is a major version: Lifeboat is built for and tested on it (the actions run on node24), and
 * its zstd compression needs node:zlib's zstd, which Node.js has had only since 22.15.0 and 23.8.0.
 */
export function nodeVersionProblem(version: string, minimumMajor: number): string | undefined {
  const match = /^v?(\d+)\./.exec(version);
  if (match && Number(match[1]) >= minimumMajor) return undefined;
  return (
    `Lifeboat needs Node.js ${minimumMajor} or newer, and this is Node.js ${version}. ` +
    `It is built and tested on Node.js ${minimumMajor} (the version its GitHub Actions run on), and its zstd compression needs ` +
    `node:zlib's zstd, which older versions lack (Node.js 20 has none). Install Node.js ${minimumMajor} (https://nodejs.org) and run lifeboat with it.`
  );
}
