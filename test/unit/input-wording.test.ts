import { describe, expect, it } from 'vitest';
import { cliWording, envName, type InputNames } from '../../src/domain/input-wording.js';

const names: InputNames = {
  inputs: new Set(['space', 'backup-bucket', 'database-url', 'binding', 'cf-username', 'cf-password', 'cf-api', 'confirm', 'skip-media', 'row-counts', 'github-token', 'media-bucket', 'aws-access-key-id', 'aws-secret-access-key', 'jobs']),
  switches: new Set(['skip-media', 'row-counts']),
};
const cli = (message: string) => cliWording(message, names);

describe('envName', () => {
  it('is LIFEBOAT_ and the input in capitals with underscores', () => {
    expect(envName('database-url')).toBe('LIFEBOAT_DATABASE_URL');
    expect(envName('aws-secret-access-key')).toBe('LIFEBOAT_AWS_SECRET_ACCESS_KEY');
    expect(envName('space')).toBe('LIFEBOAT_SPACE');
  });
});

describe('cliWording', () => {
  it('names a required input by its flag, with a flag example', () => {
    expect(cli("Input 'backup-bucket' is required but was not given. For example: backup-bucket: my-app-backups")).toBe(
      '--backup-bucket is required but was not given. For example: --backup-bucket my-app-backups',
    );
    expect(cli("Input 'space' is 'Prod', which is not a valid space name.")).toBe("--space is 'Prod', which is not a valid space name.");
  });

  it('turns an example from a secret into the environment variable', () => {
    expect(cli("Input 'database-url' is required but was not given. For example: database-url: ${{ secrets.DATABASE_URL }}")).toBe(
      '--database-url is required but was not given. For example: LIFEBOAT_DATABASE_URL="$DATABASE_URL"',
    );
    expect(cli('For example: cf-username: ${{secrets.CF_USERNAME}}')).toBe('For example: LIFEBOAT_CF_USERNAME="$CF_USERNAME"');
  });

  it('names several inputs', () => {
    expect(cli("Inputs 'aws-access-key-id' and 'aws-secret-access-key' go together: give both.")).toBe('--aws-access-key-id and --aws-secret-access-key go together: give both.');
    expect(cli("Inputs 'cf-username' and 'cf-password' are required with binding: cloudfoundry: the credentials")).toBe(
      '--cf-username and --cf-password are required with --binding cloudfoundry: the credentials',
    );
    expect(cli("at ${origin} (input 'cf-api') does not look like")).toBe('at ${origin} (--cf-api) does not look like');
  });

  it('writes a boolean example as a switch', () => {
    expect(cli("Set 'media-bucket' to its bucket, or 'skip-media: true' to restore only the database.")).toBe(
      'Set --media-bucket to its bucket, or --skip-media to restore only the database.',
    );
    expect(cli('Backups made with row-counts: false restore unverified.')).toBe('Backups made with --no-row-counts restore unverified.');
    expect(cli('jobs: true')).toBe('--jobs true');
  });

  it('turns "the input \'confirm: x\'" into the flag', () => {
    expect(cli("Set the input 'confirm: production' and run again.")).toBe('Set --confirm production and run again.');
  });

  it('names bare inputs with a dash, never plain words', () => {
    expect(cli('Not needed (and refused) with database-url, or github-token.')).toBe('Not needed (and refused) with --database-url, or --github-token.');
    expect(cli('The space being backed up, in parallel jobs.')).toBe('The space being backed up, in parallel jobs.');
  });

  it('leaves alone what is not an input', () => {
    for (const text of [
      "Set 'automated: true' on that rule under 'restores:' in .github/lifeboat.yml.",
      "Add 'admin-team: org/team-slug' to the policy.",
      "Input 'incomplete-grace' is '2x'.",
      "No space named 'production' in org 'acme'.",
      'Cannot use s3://backup-bucket/x or docs/database-url.md or $database-url or --backup-bucket.',
      'media-aws-* and pre-restore-backup-id and backup-bucket-two',
      "The binding 'none' is fine; 'jobs' read as 'jobs'.".replace("'jobs' read as 'jobs'", 'it reads'),
      'Restore refused: the pair production → staging is manual.',
    ]) {
      expect(cli(text)).toBe(text);
    }
  });

  it('rewrites nothing for a command without inputs', () => {
    for (const message of ["Input 'backup-bucket' is required. For example: backup-bucket: b", 'Refused : see below', "'' and -x"]) {
      expect(cliWording(message, { inputs: new Set(), switches: new Set() })).toBe(message);
    }
  });

  it('rewrites every occurrence in a message', () => {
    expect(cli("Input 'space' is bad and input 'jobs' too: set space: production and jobs: 2, or skip-media: yes.")).toBe(
      '--space is bad and --jobs too: set --space production and --jobs 2, or --skip-media yes.',
    );
    expect(cli('cf-username: ${{ secrets.U }} and cf-password: ${{ secrets.P }}')).toBe('LIFEBOAT_CF_USERNAME="$U" and LIFEBOAT_CF_PASSWORD="$P"');
  });
});
