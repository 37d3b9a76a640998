/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4, as Prometheus and the
 * Pushgateway parse it: github.com/prometheus/common/expfmt): it throws on anything those would
 * reject, and on what they accept but should never come from one registry (a TYPE after its samples,
 * a family's samples split up, a series twice).
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help?: string;
  type?: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/;

function parseValue(text: string, line: number): number {
  if (!FLOAT.test(text)) throw new Error(`line ${line}: '${text}' is not a float`);
  if (text.endsWith('Inf')) return text.startsWith('-') ? -Infinity : Infinity;
  return text === 'NaN' ? NaN : Number(text);
}

function unescape(text: string, allowQuote: boolean, line: number): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === '\\') out += '\\';
    else if (next === 'n') out += '\n';
    else if (next === '"' && allowQuote) out += '"';
    else throw new Error(`line ${line}: invalid escape '\\${next ?? ''}'`);
  }
  return out;
}

export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length && !text.endsWith('\n')) throw new Error('the exposition does not end with a newline');
  const families = new Map<string, ParsedFamily>();
  const seenSeries = new Set<string>();
  let current: string | undefined;
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!match) return; // a plain comment
      const [, kind, name, rest] = match as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: invalid metric name '${name}'`);
      const f = family(name);
      if (f.samples.length) throw new Error(`line ${line}: ${kind} of ${name} after its samples`);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        f.help = unescape(rest, false, line);
      } else {
        if (f.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (!TYPES.includes(rest)) throw new Error(`line ${line}: unknown type '${rest}'`);
        f.type = rest;
      }
      current = name;
      return;
    }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!match) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, , labelText, valueText] = match as unknown as [string, string, string | undefined, string | undefined, string];
    const labels: Record<string, string> = {};
    if (labelText) {
      let rest = labelText;
      while (rest.length) {
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,?)/.exec(rest);
        if (!label) throw new Error(`line ${line}: bad labels '${labelText}'`);
        const [all, labelName, value, comma] = label as unknown as [string, string, string, string];
        if (!LABEL_NAME.test(labelName) || labelName.startsWith('__')) throw new Error(`line ${line}: invalid label name '${labelName}'`);
        if (labelName in labels) throw new Error(`line ${line}: label '${labelName}' twice`);
        labels[labelName] = unescape(value, true, line);
        rest = rest.slice(all.length);
        if (!comma && rest.length) throw new Error(`line ${line}: bad labels '${labelText}'`);
      }
    }
    if (current !== name) {
      if (families.get(name)?.samples.length) throw new Error(`line ${line}: samples of ${name} are not together`);
    }
    current = name;
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(series)) throw new Error(`line ${line}: series ${series} twice`);
    seenSeries.add(series);
    family(name).samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  return families;
}
