/**
 * Words and markdown pieces for what people read: job summaries, the CLI's report and the logs. Pure,
 * so that every summary says sizes, ages, counts and failures the same way.
 */

/** A count as people read it: 312,004. */
export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** "1 table", "2 tables", "0 tables", "1,200 tables"; `many` for irregular plurals. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Binary units, one decimal: 512 B, 1.5 KiB, 3.0 GiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : 'n/a';
}

/** Seconds with one decimal under a minute, then minutes and seconds, then hours and minutes. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How long ago, in the one unit a person reads at a glance: "just now", "12 min ago", "3 h ago", "5 d ago".
 * A time in the future (a clock ahead of this one) says so rather than pretending.
 */
export function formatAge(then: Date, now: Date): string {
  const ms = now.getTime() - then.getTime();
  if (ms < -MINUTE) return 'in the future (clocks disagree)';
  if (ms < MINUTE) return 'just now';
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min ago`;
  if (ms < 2 * DAY) return `${Math.floor(ms / HOUR)} h ago`;
  return `${Math.floor(ms / DAY)} d ago`;
}

/** A UTC time as people read it in a summary: 2026-11-21 02:00 UTC. */
export function formatUtc(time: Date): string {
  const iso = time.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * Text shown as text in GitHub-flavoured markdown: every character markdown or HTML would act on is
 * escaped, so a message like "postgres://user@host/<database>" or "my_table_name" shows as written.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>#|~&!]/g, (c) => `\\${c}`);
}

/** One table cell: escapes the column separator and keeps the row on one line. */
export function tableCell(value: string): string {
  return value.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(tableCell).join(' | ')} |`)].join('\n');
}

/** A collapsed section: GitHub renders <details> folded, with `title` as the line to click. */
export function foldable(title: string, body: string): string {
  return `<details><summary>${escapeHtml(title)}</summary>\n\n${body}\n\n</details>`;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A fenced code block that the text cannot close early. */
export function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text}\n${fence}`;
}

export type AlertKind = 'NOTE' | 'TIP' | 'IMPORTANT' | 'WARNING' | 'CAUTION';

/** A GitHub alert block: each paragraph (markdown already) quoted, with blank quoted lines between them. */
export function alertBlock(kind: AlertKind, paragraphs: readonly string[]): string {
  const lines = [`> [!${kind}]`];
  paragraphs.forEach((paragraph, index) => {
    if (index > 0) lines.push('>');
    for (const line of paragraph.split('\n')) lines.push(`> ${line}`);
  });
  return lines.join('\n');
}

/** What went wrong and what to do about it, as the summaries show a failure. */
export interface FailureExplanation {
  /** One or more causes, each with its fix when the message gives one. */
  reasons: { cause: string; fix?: string }[];
  /** Lines after the first (a tool's own output, a list): shown folded, as they were. */
  detail?: string;
}

/**
 * Verbs a sentence of advice starts with in Lifeboat's messages ("Check 'cf-api' …", "Set 'jobs: 1' …").
 * The first such sentence after the cause starts the fix.
 */
const FIX_OPENERS = [
  'Add',
  'Ask',
  'Check',
  'Choose',
  'Delete',
  'Fix',
  'For example',
  'Give',
  'Grant',
  'Install',
  'Is',
  'Leave',
  'Pass',
  'Remove',
  'Restore',
  'Run',
  'Set',
  'Try',
  'Unset',
  'Use',
  'Wait',
  'Write',
];

const FIX_MARKER = ' To fix: ';

/** Sentence ends: a full stop, question or exclamation mark, then space and a capital; never after e.g. or i.e. */
const SENTENCE_END = /(?<![ (]e\.g\.|[ (]i\.e\.)(?<=[.!?])\s+(?=[A-Z(])/;

function startsFix(sentence: string): boolean {
  return FIX_OPENERS.some((opener) => sentence.startsWith(`${opener} `) || sentence.startsWith(`${opener}:`) || sentence.startsWith(`${opener},`));
}

/**
 * Splits an error message into its cause and its fix. Lifeboat's messages say the cause first and the
 * fix after it, either after "To fix:" or as the first sentence that gives advice; lines after the
 * first (a tool's own output) are kept apart as detail.
 */
export function explainFailureMessage(message: string): FailureExplanation {
  const newline = message.indexOf('\n');
  const head = (newline === -1 ? message : message.slice(0, newline)).trim();
  const rest = newline === -1 ? '' : message.slice(newline + 1).trim();
  const detail = rest ? { detail: rest } : {};
  const marker = head.indexOf(FIX_MARKER);
  if (marker !== -1) {
    return { reasons: [{ cause: head.slice(0, marker).trim(), fix: head.slice(marker + FIX_MARKER.length).trim() }], ...detail };
  }
  const sentences = head.split(SENTENCE_END);
  const at = sentences.findIndex((sentence, index) => index > 0 && startsFix(sentence));
  if (at === -1) return { reasons: [{ cause: head }], ...detail };
  return { reasons: [{ cause: sentences.slice(0, at).join(' '), fix: sentences.slice(at).join(' ') }], ...detail };
}

/** Said when a message gives no fix of its own. */
export const GENERIC_FIX = 'Fix what the cause names, then run the job again. The step log has every line Lifeboat wrote.';

/**
 * The markdown of a failure: a CAUTION alert with each cause and fix as plain text, then any detail
 * folded away. Every character of the message shows as written (no markdown in it takes effect).
 */
export function failureMarkdown(explanation: FailureExplanation): string {
  const paragraphs: string[] = [];
  const many = explanation.reasons.length > 1;
  explanation.reasons.forEach(({ cause, fix }, index) => {
    const number = many ? ` ${index + 1}` : '';
    paragraphs.push(`**Cause${number}:** ${escapeMarkdown(cause)}`);
    paragraphs.push(`**Fix${number}:** ${escapeMarkdown(fix ?? GENERIC_FIX)}`);
  });
  const parts = [alertBlock('CAUTION', paragraphs)];
  if (explanation.detail) parts.push(foldable('Full message', codeBlock(explanation.detail)));
  return parts.join('\n\n');
}
