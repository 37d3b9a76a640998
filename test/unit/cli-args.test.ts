import { describe, expect, it } from 'vitest';
import { closestMatch, didYouMean, editDistance, nodeVersionProblem, parseArgs, type FlagSpec } from '../../src/domain/cli-args.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['backup', 'backup', 0],
    ['bakup', 'backup', 1],
    ['backupp', 'backup', 1],
    ['bcakup', 'backup', 1],
    ['bakcup', 'backup', 1],
    ['flaw', 'lawn', 2],
    ['kitten', 'sitting', 3],
    ['ab', 'ba', 1],
    ['abc', 'ca', 3],
  ])('%s → %s is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('closestMatch and didYouMean', () => {
  const flags = ['space', 'backup-bucket', 'backup-prefix', 's3-endpoint', 'database-url', 'dry-run', 'json'];

  it('finds a typo of a flag', () => {
    expect(closestMatch('bakup-bucket', flags)).toBe('backup-bucket');
    expect(closestMatch('backup-buckt', flags)).toBe('backup-bucket');
    expect(closestMatch('databse-url', flags)).toBe('database-url');
    expect(closestMatch('spcae', flags)).toBe('space');
    expect(didYouMean('bakup-bucket', flags, '--')).toBe(' Did you mean --backup-bucket?');
  });

  it('allows more edits in longer words, never more than 3', () => {
    expect(closestMatch('bckp-bucket', flags)).toBe('backup-bucket'); // 2 edits in 11 letters
    expect(closestMatch('jsn', flags)).toBe('json'); // 1 edit in 3 letters
    expect(closestMatch('jn', flags)).toBeUndefined(); // 2 edits in 2 letters: a guess, not a typo
    expect(closestMatch('xxxxxxxxxxxxxxxxxxxxxxxxx', ['xxxxxxxxxxxxxxxxxxxxxyyyy'])).toBeUndefined(); // 4 edits
    expect(closestMatch('xxxxxxxxxxxxxxxxxxxxxxxxx', ['xxxxxxxxxxxxxxxxxxxxxxyyy'])).toBe('xxxxxxxxxxxxxxxxxxxxxxyyy'); // 3 edits
  });

  it('suggests a flag the word is one part of, or begins', () => {
    expect(closestMatch('bucket', flags)).toBe('backup-bucket');
    expect(closestMatch('endpoint', flags)).toBe('s3-endpoint');
    expect(closestMatch('datab', flags)).toBe('database-url');
    expect(closestMatch('ur', flags)).toBeUndefined(); // too short to guess from
    expect(closestMatch('ur', ['urgent-flag'])).toBeUndefined();
    expect(closestMatch('dry', ['dry-run-later'])).toBe('dry-run-later');
  });

  it('says nothing when nothing is close', () => {
    expect(closestMatch('verbosity-level', flags)).toBeUndefined();
    expect(didYouMean('verbosity-level', flags, '--')).toBe('');
    expect(closestMatch('anything', [])).toBeUndefined();
  });

  it('prefers the closest, then the first', () => {
    expect(closestMatch('prune', ['prone', 'prune'])).toBe('prune');
    expect(closestMatch('lost', ['list', 'lust'])).toBe('list');
    expect(didYouMean('bakup', ['backup', 'list'])).toBe(' Did you mean backup?');
  });
});

describe('parseArgs', () => {
  const spec: FlagSpec = { values: ['space', 'backup-bucket', 'confirm'], switches: ['dry-run', 'json'] };
  const values = (args: string[]) => {
    const parsed = parseArgs(args, spec, 'prune');
    if (!parsed.ok) throw new Error(parsed.problem);
    return Object.fromEntries(parsed.values);
  };
  const problem = (args: string[]) => {
    const parsed = parseArgs(args, spec, 'prune');
    if (parsed.ok) throw new Error(`parsed ${JSON.stringify(Object.fromEntries(parsed.values))}`);
    return parsed.problem;
  };

  it('reads --name value and --name=value', () => {
    expect(values(['--space', 'production', '--backup-bucket=b', '--confirm='])).toEqual({ space: 'production', 'backup-bucket': 'b', confirm: '' });
    expect(values(['--space', '-weird-'])).toEqual({ space: '-weird-' });
    expect(values([])).toEqual({});
  });

  it('reads switches as the strings an input would have', () => {
    expect(values(['--dry-run'])).toEqual({ 'dry-run': 'true' });
    expect(values(['--dry-run=false', '--json=TRUE'])).toEqual({ 'dry-run': 'false', json: 'true' });
    expect(values(['--dry-run=False'])).toEqual({ 'dry-run': 'false' });
    expect(values(['--no-dry-run'])).toEqual({ 'dry-run': 'false' });
    expect(values(['--dry-run', 'true', '--json', 'false'])).toEqual({ 'dry-run': 'true', json: 'false' });
    expect(values(['--dry-run', 'True', '--json', 'FALSE'])).toEqual({ 'dry-run': 'true', json: 'false' });
    expect(values(['--dry-run', '--space', 'x'])).toEqual({ 'dry-run': 'true', space: 'x' });
  });

  it('refuses an unknown flag, with a suggestion', () => {
    expect(problem(['--bakup-bucket', 'b'])).toBe("Unknown flag --bakup-bucket for 'lifeboat prune'. Did you mean --backup-bucket?");
    expect(problem(['--dryrun'])).toBe("Unknown flag --dryrun for 'lifeboat prune'. Did you mean --dry-run?");
    expect(problem(['--verbosity-level'])).toBe("Unknown flag --verbosity-level for 'lifeboat prune'.");
    expect(problem(['--no-space'])).toMatch(/^Unknown flag --no-space /);
    expect(problem(['--no-dry-run=true'])).toMatch(/^Unknown flag --no-dry-run /);
    expect(problem(['--xx-dry-run'])).toMatch(/^Unknown flag --xx-dry-run /);
  });

  it('refuses a flag without its value', () => {
    expect(problem(['--space'])).toBe('--space needs a value, as in --space <value>.');
    expect(problem(['--space', '--dry-run'])).toBe('--space needs a value, as in --space <value>.');
  });

  it('refuses a switch with a value that is not true or false', () => {
    expect(problem(['--dry-run=yes'])).toBe("--dry-run is a switch; it takes true or false, not 'yes'.");
  });

  it('refuses positional arguments and single-dash flags', () => {
    expect(problem(['production'])).toBe("Unexpected argument 'production' for 'lifeboat prune'. Every value follows its flag, as in --space production.");
    expect(problem(['-s', 'x'])).toBe("Unexpected argument '-s' for 'lifeboat prune'. Flags start with two dashes (--name).");
    expect(problem(['--'])).toMatch(/^Unexpected argument '--' /);
    expect(problem(['--dry-run', 'yes'])).toMatch(/^Unexpected argument 'yes' /);
  });

  it('refuses a flag given twice', () => {
    expect(problem(['--space', 'a', '--space=b'])).toBe('--space is given twice; give it once.');
    expect(problem(['--dry-run', '--no-dry-run'])).toBe('--dry-run is given twice; give it once.');
  });
});

describe('nodeVersionProblem', () => {
  it('accepts the minimum major and newer', () => {
    expect(nodeVersionProblem('v24.0.0', 24)).toBeUndefined();
    expect(nodeVersionProblem('v24.21.0', 24)).toBeUndefined();
    expect(nodeVersionProblem('v25.1.3', 24)).toBeUndefined();
    expect(nodeVersionProblem('24.1.0', 24)).toBeUndefined();
  });

  it('explains what to do on an older Node.js, naming both versions', () => {
    for (const version of ['v20.20.2', 'v22.15.0', 'v23.11.1']) {
      const problem = nodeVersionProblem(version, 24);
      expect(problem).toMatch(new RegExp(`^Lifeboat needs Node.js 24 or newer, and this is Node.js ${version.replace(/\./g, '\\.')}\\. `));
      expect(problem).toMatch(/ It is built and tested on Node\.js 24 \(the version its GitHub Actions run on\), and its zstd compression needs node:zlib's zstd/);
      expect(problem).toMatch(/Install Node\.js 24 \(https:\/\/nodejs\.org\)/);
    }
  });

  it('refuses a version it cannot read', () => {
    expect(nodeVersionProblem('unknown', 24)).toMatch(/this is Node\.js unknown/);
    expect(nodeVersionProblem('x24.1.0', 24)).toMatch(/this is Node\.js x24\.1\.0/);
  });
});
