/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * Job summaries as GitHub shows them: GitHub-flavoured markdown (tables, alert blocks, raw <details>)
 * rendered by marked with marked-alert, styled with github-markdown-css, in a column of GitHub's
 * content width for job summaries (1012 px), and looked at in Debian's Chromium through playwright-core.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Marked } from 'marked';
import markedAlert from 'marked-alert';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The width GitHub gives a job summary's content on a desktop screen. */
export const GITHUB_CONTENT_WIDTH = 1012;

const require = createRequire(import.meta.url);
const githubCss = readFileSync(require.resolve('github-markdown-css/github-markdown-light.css'), 'utf8');
const marked = new Marked({ gfm: true }).use(markedAlert());

export function renderSummaryHtml(markdown: string, title = 'Lifeboat job summary'): string {
  const body = marked.parse(markdown, { async: false });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
${githubCss}
html, body { margin: 0; padding: 0; background: #fff; }
.markdown-body { box-sizing: border-box; width: ${GITHUB_CONTENT_WIDTH}px; padding: 0; }
</style></head>
<body><article class="markdown-body">
${body}
</article></body></html>`;
}

/** Debian's Chromium: the binary itself, since /usr/bin/chromium is a wrapper script. LIFEBOAT_CHROMIUM overrides. */
export function chromiumPath(): string {
  const candidates = [process.env.LIFEBOAT_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].filter((p): p is string => Boolean(p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`No Chromium at ${candidates.join(' or ')}: install Debian's package (apt-get install -y chromium), as .ci/run does.`);
  return found;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: ['--disable-gpu'] });
}

/** What the browser sees of a rendered summary: the facts the checks are about. */
export interface SummaryLayout {
  statusLine: string;
  pageWidth: number;
  details: { summary: string; open: boolean; contentVisible: boolean }[];
  alerts: { kind: string; text: string; visible: boolean }[];
  /** With every <details> opened. */
  tables: { width: number; visibleWidth: number; right: number }[];
  pageWidthOpen: number;
}

export async function inspectSummary(page: Page, html: string): Promise<SummaryLayout> {
  await page.setViewportSize({ width: GITHUB_CONTENT_WIDTH, height: 800 });
  await page.setContent(html, { waitUntil: 'load' });
  const collapsed = await page.evaluate(() => ({
    statusLine: document.querySelector('.markdown-body > h2')?.textContent ?? '',
    pageWidth: document.documentElement.scrollWidth,
    details: [...document.querySelectorAll('details')].map((d) => ({
      summary: d.querySelector('summary')?.textContent ?? '',
      open: d.open,
      contentVisible: [...d.children].filter((c) => c.tagName !== 'SUMMARY').some((c) => (c as HTMLElement).checkVisibility()),
    })),
    alerts: [...document.querySelectorAll('.markdown-alert')].map((a) => ({
      kind: [...a.classList].find((c) => c.startsWith('markdown-alert-'))?.slice('markdown-alert-'.length) ?? '',
      text: (a as HTMLElement).innerText,
      visible: (a as HTMLElement).checkVisibility() && a.getBoundingClientRect().height > 0,
    })),
  }));
  const opened = await page.evaluate(() => {
    for (const d of document.querySelectorAll('details')) d.open = true;
    return {
      tables: [...document.querySelectorAll('table')].map((t) => ({ width: t.scrollWidth, visibleWidth: t.clientWidth, right: t.getBoundingClientRect().right })),
      pageWidthOpen: document.documentElement.scrollWidth,
    };
  });
  return { ...collapsed, ...opened };
}
