/**
 * The engine logs through this interface so it never imports @actions/core: the actions give it a
 * logger backed by the toolkit, the CLI one backed by the console. Both redact secrets.
 */
import { redact } from './secrets.js';

export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  group<T>(title: string, body: () => Promise<T>): Promise<T>;
}

export function consoleLogger(options: { verbose?: boolean; stream?: NodeJS.WritableStream } = {}): Logger {
  const out = options.stream ?? process.stderr;
  const write = (line: string) => out.write(redact(line) + '\n');
  return {
    info: write,
    warning: (m) => write(`warning: ${m}`),
    debug: (m) => {
      if (options.verbose) write(`debug: ${m}`);
    },
    async group(title, body) {
      write(`== ${title}`);
      return body();
    },
  };
}

/** A logger that keeps lines in memory: for the demo and the tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(redact(m)),
    warning: (m) => lines.push('warning: ' + redact(m)),
    debug: (m) => lines.push('debug: ' + redact(m)),
    async group(title, body) {
      lines.push('== ' + redact(title));
      return body();
    },
  };
}
