/**
 * Renders every job summary (success and failure of each action, from test/support/summary-fixtures.ts)
 * as GitHub would, to reports/summaries/<name>.html and .png (collapsed) and -open.png (every <details>
 * open), to look at: `npx tsx scripts/render-summaries.ts`. The browser test checks the same pages.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allSummaries } from '../test/support/summary-fixtures.js';
import { inspectSummary, launchChromium, renderSummaryHtml } from '../test/support/summary-render.js';

const out = join(import.meta.dirname, '..', 'reports', 'summaries');
mkdirSync(out, { recursive: true });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  for (const [name, markdown] of Object.entries(allSummaries())) {
    const html = renderSummaryHtml(markdown, name);
    writeFileSync(join(out, `${name}.md`), markdown);
    writeFileSync(join(out, `${name}.html`), html);
    await page.setContent(html);
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
    const layout = await inspectSummary(page, html);
    await page.screenshot({ path: join(out, `${name}-open.png`), fullPage: true });
    const widest = Math.max(0, ...layout.tables.map((t) => t.width));
    console.log(`${name}: ${layout.statusLine}; widest table ${widest} px; ${layout.details.length} folded sections -> ${join(out, name)}.png`);
  }
} finally {
  await browser.close();
}
