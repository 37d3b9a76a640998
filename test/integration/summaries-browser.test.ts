/**
 * Every job summary (success and failure of each action) rendered as GitHub renders it and checked in
 * a real Chromium: the status line comes first, a failure's cause and fix show in a CAUTION alert,
 * <details> start collapsed, and no table is wider than GitHub's 1012 px content width (a table wider
 * than that scrolls inside itself, hiding columns). Screenshots go to reports/summaries/ to look at.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSummaries } from '../support/summary-fixtures.js';
import { GITHUB_CONTENT_WIDTH, inspectSummary, launchChromium, renderSummaryHtml } from '../support/summary-render.js';

const SCREENSHOTS = join(import.meta.dirname, '..', '..', 'reports', 'summaries');

describe('job summaries in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const [name, markdown] of Object.entries(allSummaries())) {
    it(`${name}: status first, alerts shown, details folded, tables within ${GITHUB_CONTENT_WIDTH} px`, async () => {
      const page = await browser.newPage();
      try {
        const html = renderSummaryHtml(markdown, name);
        writeFileSync(join(SCREENSHOTS, `${name}.html`), html);
        await page.setViewportSize({ width: GITHUB_CONTENT_WIDTH, height: 800 });
        await page.setContent(html);
        await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
        const layout = await inspectSummary(page, html);
        await page.screenshot({ path: join(SCREENSHOTS, `${name}-open.png`), fullPage: true });

        expect(layout.statusLine).toMatch(name.endsWith('success') ? /^✅ Lifeboat / : /^❌ Lifeboat /);
        expect(layout.pageWidth).toBeLessThanOrEqual(GITHUB_CONTENT_WIDTH);
        expect(layout.pageWidthOpen).toBeLessThanOrEqual(GITHUB_CONTENT_WIDTH);
        for (const d of layout.details) expect(d, `details '${d.summary}'`).toMatchObject({ open: false, contentVisible: false });
        for (const table of layout.tables) {
          // A table wider than its box scrolls sideways and hides columns; wider than the page, it spills.
          expect(table.width).toBeLessThanOrEqual(table.visibleWidth);
          expect(table.right).toBeLessThanOrEqual(GITHUB_CONTENT_WIDTH);
        }
        if (!name.endsWith('success')) {
          const caution = layout.alerts.filter((a) => a.kind === 'caution');
          expect(caution).toHaveLength(1);
          expect(caution[0]!.visible).toBe(true);
          // The title GitHub shows, then the cause and fix as text: no markdown left over in it.
          expect(caution[0]!.text).toMatch(/^Caution\n[^]*Cause( 1)?: \S[^]*Fix( 1)?: \S/);
          expect(caution[0]!.text).not.toMatch(/\\[_<>*`]|\*\*/);
        }
      } finally {
        await page.close();
      }
    });
  }

  it('the check sees a table too wide and an open <details>, so it can fail', async () => {
    const page = await browser.newPage();
    try {
      const wide = `| ${Array.from({ length: 12 }, (_, i) => `Column number ${i}`).join(' | ')} |\n| ${Array.from({ length: 12 }, () => '---').join(' | ')} |\n| ${Array.from({ length: 12 }, () => '`2026-11-21T020000.000Z-nightly-7f3a`').join(' | ')} |`;
      const layout = await inspectSummary(page, renderSummaryHtml(`## ✅ x\n\n<details open><summary>s</summary>\n\nhidden?\n\n</details>\n\n${wide}\n`));
      expect(layout.tables[0]!.width).toBeGreaterThan(layout.tables[0]!.visibleWidth);
      expect(layout.details[0]).toMatchObject({ open: true, contentVisible: true });
    } finally {
      await page.close();
    }
  });
});
