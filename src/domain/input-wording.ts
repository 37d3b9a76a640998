/**
 * How a message names inputs, per surface. Messages are written once, in the actions' words: an input is
 * quoted ('backup-bucket'), introduced as "Input 'backup-bucket'", and examples are workflow YAML
 * (`backup-bucket: my-app-backups`, `database-url: ${{ secrets.DATABASE_URL }}`). In GitHub Actions they
 * are shown as written. The CLI shows them through `cliWording`, which rewrites exactly those three forms,
 * and only for names that are inputs, into flags: `--backup-bucket`, `--backup-bucket my-app-backups`,
 * `LIFEBOAT_DATABASE_URL="$DATABASE_URL"` (secrets go through the environment, never the command line).
 */

export interface InputNames {
  /** Every input name of the command. */
  inputs: ReadonlySet<string>;
  /** The boolean ones, shown as switches: `skip-media: true` becomes --skip-media. */
  switches: ReadonlySet<string>;
}

/** The environment variable the CLI reads an input from: database-url is LIFEBOAT_DATABASE_URL. */
export function envName(input: string): string {
  return 'LIFEBOAT_' + input.toUpperCase().replace(/-/g, '_');
}

const NAME = '[a-z][a-z0-9]*(?:-[a-z0-9]+)*';

export function cliWording(message: string, names: InputNames): string {
  const known = (name: string) => names.inputs.has(name);
  if (names.inputs.size === 0) return message;
  // The YAML forms match only input names, so that "For example: backup-bucket: b" finds its input after "example: ".
  const anyInput = [...names.inputs].join('|');
  return (
    message
      // An example from a secret: `database-url: ${{ secrets.STAGING_DATABASE_URL }}` → LIFEBOAT_DATABASE_URL="$STAGING_DATABASE_URL".
      .replace(new RegExp(`(?<![\\w-])(${anyInput}): \\$\\{\\{ *secrets\\.([A-Za-z_][A-Za-z0-9_]*) *\\}\\}`, 'g'), (_, name: string, secret: string) => `${envName(name)}="$${secret}"`)
      // A YAML example `name: value` → `--name value`; for a switch `--name` or `--no-name`.
      .replace(new RegExp(`(?<![\\w-])(${anyInput}): ([^\\s',;)]+)`, 'g'), (_, name: string, value: string) => {
        if (names.switches.has(name) && (value === 'true' || value === 'false')) return value === 'true' ? `--${name}` : `--no-${name}`;
        return `--${name} ${value}`;
      })
      // "Input 'x'" / "Inputs 'x' and 'y'" / "input 'x'": the flag names itself.
      .replace(new RegExp(`\\b[Ii]nputs? (?='(${NAME})['])`, 'g'), (whole, name: string) => (known(name) ? '' : whole))
      // "Set the input '--confirm staging'": after the rewrites above, a flag.
      .replace(/\bthe input (?='--)/g, '')
      // A quoted input name → the flag.
      .replace(new RegExp(`'(${NAME})'`, 'g'), (whole, name: string) => (known(name) ? `--${name}` : whole))
      // A quoted example that became a flag keeps no quotes: '--skip-media' → --skip-media.
      .replace(/'(--[a-z0-9-]+(?: [^'\s]+)?)'/g, '$1')
      // A bare name with a dash (cf-database-instance) is unambiguous; a one-word name (space, jobs) is also a plain word, so it is left alone.
      .replace(new RegExp(`(?<![\\w\\-/.$'"])([a-z][a-z0-9]*(?:-[a-z0-9]+)+)(?![\\w-])`, 'g'), (whole, name: string) => (known(name) ? `--${name}` : whole))
  );
}
