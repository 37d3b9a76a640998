import { describe, expect, it } from 'vitest';
import { RestoreRefused } from '../../src/domain/restore-authorization.js';
import { backupSummary, explainError, failureSummary, listSummary, pruneSummary, restoreSummary } from '../../src/engine/summaries.js';
import { allSummaries, backupResult, details, entry, latestPerSpace, listed, NOW, pruneResult, restoreResult } from '../support/summary-fixtures.js';

const firstLine = (markdown: string) => markdown.split('\n')[0]!;

describe('every summary starts with its status', () => {
  it('✅ for success, ❌ for failure, refusal and a partly failed prune', () => {
    for (const [name, markdown] of Object.entries(allSummaries())) {
      expect(firstLine(markdown), name).toMatch(name.endsWith('success') ? /^## ✅ Lifeboat / : /^## ❌ Lifeboat /);
    }
  });
  it('every failure has its cause and fix in a CAUTION alert', () => {
    for (const [name, markdown] of Object.entries(allSummaries()).filter(([n]) => !n.endsWith('success'))) {
      expect(markdown, name).toMatch(/\n> \[!CAUTION\]\n> \*\*Cause( 1)?:\*\* .+\n>\n> \*\*Fix( 1)?:\*\* .+/);
      expect(markdown, name).not.toMatch(/^```text\n(Restore refused|Cannot)/m);
    }
  });
});

describe('backupSummary', () => {
  const markdown = backupSummary(backupResult, NOW);
  it('says the id, the size, and the age in its second line', () => {
    expect(markdown.split('\n')[2]).toBe('**`2026-11-21T020000.000Z-nightly-7f3a`** · 46.0 MiB · finished 3 h ago (2026-11-21 02:03 UTC) · nightly');
  });
  it('reports media apart from the size, and counts tables and rows in words', () => {
    expect(markdown).toContain('- Row counts: 3 tables, 312,005 rows, recorded for restore to check against');
    expect(markdown).toContain('Media: 18,204 objects (9.2 GiB) in `s3://fac-media-production-3f9e1c2a-5b7d-4e8f-9a1b-2c3d4e5f6a7b/uploads/`; 37 new (11.8 MiB) stored, 18,167 reused (9.2 GiB). Not part of the size');
    expect(markdown).toContain('Size: the artifacts and the manifest, 48,213,556 bytes.');
  });
  it('says a backup without row counts cannot be checked, and says one table in the singular', () => {
    const m = backupResult.manifest;
    expect(backupSummary({ ...backupResult, manifest: { ...m, database: { ...m.database, tables: null } } }, NOW)).toContain('- Row counts: not recorded');
    const one = backupSummary({ ...backupResult, manifest: { ...m, database: { ...m.database, tables: [{ schema: 'public', table: 't', rows: 1 }] } } }, NOW);
    expect(one).toContain('- Row counts: 1 table, 1 row,');
  });
  it('folds the artifacts away', () => {
    expect(markdown).toMatch(/<details><summary>Where it is stored, and its artifacts<\/summary>\n\n[^]*\| database \(zstd\) \| 46\.0 MiB \| 393\.2 MiB \| `9f2c1e7b3a5d4c6e…` \|\n\n<\/details>/);
  });
});

describe('listSummary', () => {
  const markdown = listSummary({ backups: listed, latestPerSpace, filterText: '', details }, NOW);
  it("shows each space's own latest restorable backup and its age first", () => {
    const lines = markdown.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      '## ✅ Lifeboat backups: 5 restorable backups',
      '',
      '| Space | Latest restorable | Age | Size |',
      '| --- | --- | --- | --- |',
      '| dev | `2026-11-14T020000.000Z-nightly-9a9a` | 7 d ago | 46.0 MiB |',
      '| production | `2026-11-21T020000.000Z-nightly-7f3a` | 3 h ago | 46.0 MiB |',
      '| staging | `2026-11-21T040000.000Z-predeploy-aa01` | 1 h ago | 46.0 MiB |',
    ]);
  });
  it('names a space with backups but none restorable', () => {
    const text = listSummary({ backups: listed, latestPerSpace: [listed[2]!], filterText: '', details: undefined }, NOW);
    expect(text).toContain('| dev | ❌ none | — | — |');
    expect(text).not.toContain('Database and media of each restorable backup');
  });
  it('warns of invalid manifests, and folds every list', () => {
    expect(markdown).toContain('> [!WARNING]\n> 1 backup has a manifest that is corrupt');
    expect(markdown).toContain('<details><summary>Invalid backups (1)</summary>');
    expect(markdown).toContain('| `2026-11-20T020000.000Z-nightly-11d2` | production | The manifest is not valid JSON');
    expect(markdown).toContain('<details><summary>All restorable backups (5), newest first</summary>');
    expect(markdown).toContain('<details><summary>Incomplete, not restorable (1): failed, interrupted or still running</summary>');
    expect(markdown).toContain('| `2026-11-21T040000.000Z-predeploy-aa01` | 383.4 MiB, 3 tables | — | — |');
    expect(markdown).toContain('| `2026-11-19T020000.000Z-nightly-0c3e` | 1 B, 1 table | — | — |');
    expect(markdown).toContain('| `2026-11-21T020000.000Z-nightly-7f3a` | 393.2 MiB, 3 tables | 18,204 (9.2 GiB) | 37 (11.8 MiB) |');
    expect(markdown).toContain('| `2026-11-14T020000.000Z-nightly-9a9a` | manifest unreadable: Access Denied (403) reading the manifest |  |  |');
  });
  it('fails visibly when nothing is restorable', () => {
    const none = listSummary({ backups: [entry('2026-11-21T031500.000Z-manual-0b0c', 'production', 'incomplete')], latestPerSpace: [], filterText: 'space production', details: undefined }, NOW);
    expect(firstLine(none)).toBe('## ❌ Lifeboat backups (space production): nothing restorable');
    expect(none).toContain('None of the 1 backup found can be restored.');
    expect(listSummary({ backups: [], latestPerSpace: [], filterText: '', details: undefined }, NOW)).toContain('The bucket holds no backup that matches.');
  });
});

describe('restoreSummary', () => {
  const markdown = restoreSummary(restoreResult, NOW);
  it('leads with what the target holds now and how old it is', () => {
    expect(firstLine(markdown)).toBe("## ✅ Lifeboat restore: staging now holds production's backup from 3 h ago");
    expect(markdown).toContain('- Verified: 3 of 3 tables match the backup\'s row counts (312,005 rows)');
    expect(markdown).toContain('- Method: pg_restore --jobs=4, after the pre-restore backup `2026-11-21T050000.000Z-pre-restore-5e6f`');
    expect(markdown).toContain('- Started: manual, by octocat (member of GSA-TTS/fac-admins); rule production → staging (refresh staging with production data)');
  });
  it('warns of skipped grants and folds them and the row counts', () => {
    expect(markdown).toContain('> [!WARNING]\n> 1 grant was skipped');
    expect(markdown).toContain('<details><summary>Skipped grants (1)</summary>');
    // Plain text, so the statement wraps in a narrow column; a code span would not.
    expect(markdown).toContain('| TABLE public.audit\\_singleauditchecklist | GRANT SELECT ON TABLE public.audit\\_singleauditchecklist TO');
    expect(markdown).toContain('<details><summary>Row counts per table (3)</summary>');
    expect(markdown).toContain('| public.audit_singleauditchecklist | 312,004 | 312,004 | ✅ |');
  });
  it('says plainly when the restore could not be verified', () => {
    const unverified = restoreSummary({ ...restoreResult, checks: null, method: 'transactional', skippedGrantCount: 0, skippedGrants: [], media: undefined }, NOW);
    expect(unverified).toContain('- **Not verified:**');
    expect(unverified).toContain('- Method: one transaction streamed from the bucket');
    expect(unverified).not.toContain('Row counts per table');
    expect(unverified).not.toContain('Skipped grants');
    expect(unverified).not.toContain('- Media:');
  });
});

describe('pruneSummary', () => {
  it('puts a failed deletion in a CAUTION alert with the fix', () => {
    const markdown = pruneSummary(pruneResult);
    expect(firstLine(markdown)).toBe('## ❌ Lifeboat prune: 1 backup could not be deleted, 3 kept');
    expect(markdown).toContain('**Fix:** Check that the credentials allow s3:DeleteObject, then run prune again to finish.');
    expect(markdown).toContain('| `2026-11-02T120000.000Z-pre-restore-42ab` | staging | ❌ delete failed | pre-restore backups are kept 14 days; Access Denied (403)');
    expect(markdown).toContain('| `2026-11-21T031500.000Z-manual-0b0c` | production | deleted (incomplete) |');
  });
  it('says what a dry run would do, and what was freed otherwise', () => {
    const dry = pruneSummary({ ...pruneResult, dryRun: true, failed: [], deleted: [] });
    expect(firstLine(dry)).toBe('## ✅ Lifeboat prune: dry run, 3 backups would be deleted, 3 kept');
    expect(dry).not.toContain('- Freed');
    expect(dry).toContain('1 older than the grace period would be aborted');
    const done = pruneSummary({ ...pruneResult, failed: [], deleted: [listed[4]!] });
    expect(firstLine(done)).toBe('## ✅ Lifeboat prune: 1 backup deleted, 3 kept');
    expect(done).toContain('- Freed 47.0 MiB: 5 objects in 2 delete requests');
    expect(done).toContain('<details><summary>Every backup and its decision (6)</summary>');
  });
});

describe('failureSummary and explainError', () => {
  it("uses a refusal's own reasons and fixes", () => {
    const refusal = new RestoreRefused({ reason: "'production' is protected.", fix: "Set 'confirm: production'." });
    expect(explainError(refusal, refusal.message)).toEqual({ reasons: [{ cause: "'production' is protected.", fix: "Set 'confirm: production'." }] });
  });
  it("reads any other error's message", () => {
    expect(explainError(new Error('x'), 'It broke. Check it.')).toEqual({ reasons: [{ cause: 'It broke.', fix: 'Check it.' }] });
    expect(explainError(null, 'plain')).toEqual({ reasons: [{ cause: 'plain' }] });
    expect(explainError({ reasons: [{ reason: 'r' }] }, 'm')).toEqual({ reasons: [{ cause: 'm' }] });
  });
  it('says what was asked, when, and whether it was refused', () => {
    const markdown = failureSummary({ action: 'restore', subject: 'production → staging', refused: true, facts: ['Backup asked for: latest_one'] }, { reasons: [{ cause: 'A.', fix: 'B.' }] }, NOW);
    expect(markdown).toBe(
      '## ❌ Lifeboat restore production → staging: refused\n\nRefused at 2026-11-21 05:07 UTC.\n\n- Backup asked for: latest\\_one\n\n> [!CAUTION]\n> **Cause:** A.\n>\n> **Fix:** B.\n',
    );
    expect(failureSummary({ action: 'list' }, { reasons: [{ cause: 'A.' }] }, NOW)).toMatch(/^## ❌ Lifeboat list: failed\n\nFailed at 2026-11-21 05:07 UTC\.\n\n> \[!CAUTION\]/);
  });
});
