import { describe, expect, it } from 'vitest';
import {
  alertBlock,
  codeBlock,
  escapeHtml,
  escapeMarkdown,
  explainFailureMessage,
  failureMarkdown,
  foldable,
  formatAge,
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  formatUtc,
  GENERIC_FIX,
  markdownTable,
  plural,
  tableCell,
} from '../../src/domain/report.js';

describe('plural and counts', () => {
  it('says 1 table, 0 tables, 2 tables and groups thousands', () => {
    expect(plural(1, 'table')).toBe('1 table');
    expect(plural(0, 'table')).toBe('0 tables');
    expect(plural(2, 'table')).toBe('2 tables');
    expect(plural(1234567, 'row')).toBe('1,234,567 rows');
    expect(plural(1, 'backup has', 'backups have')).toBe('1 backup has');
    expect(plural(3, 'backup has', 'backups have')).toBe('3 backups have');
    expect(formatCount(312004)).toBe('312,004');
    expect(formatCount(999)).toBe('999');
  });
});

describe('formatBytes and formatRate', () => {
  it('uses binary units with one decimal, and bytes as whole numbers', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1.0 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1024 * 1024)).toBe('1.0 MiB');
    expect(formatBytes(48_213_556)).toBe('46.0 MiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
    // TiB is the largest unit: no "undefined" past it.
    expect(formatBytes(2048 * 1024 ** 4)).toBe('2048.0 TiB');
  });
  it('gives a rate per second, or n/a without time', () => {
    expect(formatRate(2048, 1000)).toBe('2.0 KiB/s');
    expect(formatRate(2048, 500)).toBe('4.0 KiB/s');
    expect(formatRate(2048, 0)).toBe('n/a');
    expect(formatRate(2048, -1)).toBe('n/a');
  });
});

describe('formatDuration', () => {
  it('is seconds under a minute, minutes and seconds under an hour, then hours and minutes', () => {
    expect(formatDuration(0)).toBe('0.0 s');
    expect(formatDuration(4_249)).toBe('4.2 s');
    expect(formatDuration(59_949)).toBe('59.9 s');
    expect(formatDuration(60_000)).toBe('1 min 0 s');
    expect(formatDuration(192_400)).toBe('3 min 12 s');
    expect(formatDuration(3_599_000)).toBe('59 min 59 s');
    expect(formatDuration(3_600_000)).toBe('1 h 0 min');
    expect(formatDuration(7_380_000)).toBe('2 h 3 min');
  });
});

describe('formatAge', () => {
  const now = new Date('2026-11-21T05:00:00Z');
  const ago = (ms: number) => formatAge(new Date(now.getTime() - ms), now);
  it('says just now, minutes, hours up to two days, then days', () => {
    expect(ago(0)).toBe('just now');
    expect(ago(59_999)).toBe('just now');
    expect(ago(60_000)).toBe('1 min ago');
    expect(ago(59 * 60_000 + 59_999)).toBe('59 min ago');
    expect(ago(3_600_000)).toBe('1 h ago');
    expect(ago(3 * 3_600_000 + 1)).toBe('3 h ago');
    expect(ago(47 * 3_600_000 + 3_599_999)).toBe('47 h ago');
    expect(ago(48 * 3_600_000)).toBe('2 d ago');
    expect(ago(18.5 * 24 * 3_600_000)).toBe('18 d ago');
  });
  it('tolerates a little clock skew and names more', () => {
    expect(ago(-60_000)).toBe('just now');
    expect(ago(-60_001)).toBe('in the future (clocks disagree)');
  });
  it('formats UTC times to the minute', () => {
    expect(formatUtc(new Date('2026-11-21T02:03:12.400Z'))).toBe('2026-11-21 02:03 UTC');
  });
});

describe('markdown pieces', () => {
  it('escapes everything markdown or HTML would act on, and nothing else', () => {
    expect(escapeMarkdown("postgres://user@host:5432/<database> my_table *x* `y` [a](b) #1 a|b ~c~ &amp; !\\")).toBe(
      "postgres://user@host:5432/\\<database\\> my\\_table \\*x\\* \\`y\\` \\[a\\](b) \\#1 a\\|b \\~c\\~ \\&amp; \\!\\\\",
    );
    expect(escapeMarkdown("Input 'space' is 'prod'.")).toBe("Input 'space' is 'prod'.");
  });
  it('escapes HTML', () => {
    expect(escapeHtml('a < b && c > d')).toBe('a &lt; b &amp;&amp; c &gt; d');
  });
  it('keeps table cells on one line and their pipes literal', () => {
    expect(tableCell('a|b\nc\r\nd')).toBe('a\\|b c d');
    expect(markdownTable(['A', 'B'], [['1', 'x|y'], ['2', 'z']])).toBe('| A | B |\n| --- | --- |\n| 1 | x\\|y |\n| 2 | z |');
    expect(markdownTable(['A'], [])).toBe('| A |\n| --- |');
  });
  it('folds a body under an escaped title', () => {
    expect(foldable('Rows <all>', 'body')).toBe('<details><summary>Rows &lt;all&gt;</summary>\n\nbody\n\n</details>');
  });
  it('fences code so that backticks inside cannot close it', () => {
    expect(codeBlock('plain')).toBe('```text\nplain\n```');
    expect(codeBlock('a ```` b')).toBe('`````text\na ```` b\n`````');
    expect(codeBlock('a ` b')).toBe('```text\na ` b\n```');
  });
  it('quotes each line of each paragraph of an alert, with quoted blank lines between paragraphs', () => {
    expect(alertBlock('CAUTION', ['one', 'two\nlines'])).toBe('> [!CAUTION]\n> one\n>\n> two\n> lines');
    expect(alertBlock('WARNING', ['only'])).toBe('> [!WARNING]\n> only');
  });
});

describe('explainFailureMessage', () => {
  it('splits at "To fix:"', () => {
    expect(explainFailureMessage("Restore refused: 'production' is protected. To fix: Set 'confirm: production'.")).toEqual({
      reasons: [{ cause: "Restore refused: 'production' is protected.", fix: "Set 'confirm: production'." }],
    });
  });
  it('takes the first sentence of advice, and everything after it, as the fix', () => {
    expect(
      explainFailureMessage("Cannot use the bucket 'b' given in 'backup-bucket': Access Denied (403). Check 'backup-bucket' and the credentials. Then run again."),
    ).toEqual({ reasons: [{ cause: "Cannot use the bucket 'b' given in 'backup-bucket': Access Denied (403).", fix: "Check 'backup-bucket' and the credentials. Then run again." }] });
    expect(explainFailureMessage("Input 'database-url' is required but was not given. For example: database-url: ${{ secrets.DATABASE_URL }}")).toEqual({
      reasons: [{ cause: "Input 'database-url' is required but was not given.", fix: 'For example: database-url: ${{ secrets.DATABASE_URL }}' }],
    });
  });
  it('keeps several sentences of cause together', () => {
    expect(explainFailureMessage('It failed. It was cut short! Was it? Use another one.')).toEqual({
      reasons: [{ cause: 'It failed. It was cut short! Was it?', fix: 'Use another one.' }],
    });
  });
  it('does not take a first sentence as a fix, nor split after e.g. or i.e.', () => {
    expect(explainFailureMessage('Check failed: the role lacks USAGE.')).toEqual({ reasons: [{ cause: 'Check failed: the role lacks USAGE.' }] });
    expect(explainFailureMessage('The role lacks rights, e.g. Check the grants. Grant it, e.g. GRANT USAGE ON SCHEMA public TO app.')).toEqual({
      reasons: [{ cause: 'The role lacks rights, e.g. Check the grants.', fix: 'Grant it, e.g. GRANT USAGE ON SCHEMA public TO app.' }],
    });
    expect(explainFailureMessage('No free disk (i.e. Use is at 100%). Wait for it.')).toEqual({
      reasons: [{ cause: 'No free disk (i.e. Use is at 100%).', fix: 'Wait for it.' }],
    });
  });
  it('knows advice by its opening word only, followed by a space, colon or comma', () => {
    expect(explainFailureMessage('Bad. Checking was slow. Settle it.').reasons).toEqual([{ cause: 'Bad. Checking was slow. Settle it.' }]);
    expect(explainFailureMessage('Bad. Set, then go.').reasons[0]!.fix).toBe('Set, then go.');
    expect(explainFailureMessage('Bad. (Use x.)').reasons[0]!.fix).toBeUndefined();
    for (const opener of ['Add', 'Ask', 'Choose', 'Delete', 'Fix', 'Give', 'Grant', 'Install', 'Is', 'Leave', 'Pass', 'Remove', 'Restore', 'Run', 'Try', 'Unset', 'Wait', 'Write']) {
      expect(explainFailureMessage(`It broke. ${opener} it now.`).reasons[0]).toEqual({ cause: 'It broke.', fix: `${opener} it now.` });
    }
  });
  it('keeps the lines after the first apart, as detail', () => {
    expect(explainFailureMessage('pg_restore failed. Run it again.\npg_restore said:\nERROR: x\n')).toEqual({
      reasons: [{ cause: 'pg_restore failed.', fix: 'Run it again.' }],
      detail: 'pg_restore said:\nERROR: x',
    });
    expect(explainFailureMessage('  Only a cause.  \n\n')).toEqual({ reasons: [{ cause: 'Only a cause.' }] });
    expect(explainFailureMessage("Bad. To fix: do it.\nmore")).toEqual({ reasons: [{ cause: 'Bad.', fix: 'do it.' }], detail: 'more' });
  });
});

describe('failureMarkdown', () => {
  it('puts the cause and the fix, as plain text, in a CAUTION alert', () => {
    expect(failureMarkdown({ reasons: [{ cause: 'The <database> my_db is gone.', fix: 'Give another.' }] })).toBe(
      '> [!CAUTION]\n> **Cause:** The \\<database\\> my\\_db is gone.\n>\n> **Fix:** Give another.',
    );
  });
  it('says a generic fix when the message has none, and numbers several reasons', () => {
    expect(failureMarkdown({ reasons: [{ cause: 'A.' }, { cause: 'B.', fix: 'C.' }] })).toBe(
      `> [!CAUTION]\n> **Cause 1:** A.\n>\n> **Fix 1:** ${GENERIC_FIX}\n>\n> **Cause 2:** B.\n>\n> **Fix 2:** C.`,
    );
  });
  it('folds the detail away as a code block', () => {
    expect(failureMarkdown({ reasons: [{ cause: 'A.', fix: 'B.' }], detail: 'x\ny' })).toBe(
      '> [!CAUTION]\n> **Cause:** A.\n>\n> **Fix:** B.\n\n<details><summary>Full message</summary>\n\n```text\nx\ny\n```\n\n</details>',
    );
  });
});
