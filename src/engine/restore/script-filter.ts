/**
 * The stream between `pg_restore --single-transaction --file=-` and psql, in the one-transaction
 * restore. pg_restore's script is applied unchanged except for four things, each for the promise that
 * the target ends fully restored or untouched:
 *
 * - its opening `BEGIN;` and closing `COMMIT;` are removed: Lifeboat opens the transaction itself
 *   before the wipe and commits only after its own checks (the archive's hash, the row counts). Without
 *   --single-transaction pg_restore would wrap large-object data in a BEGIN/COMMIT of its own, which
 *   inside our transaction would commit the wipe and half a restore;
 * - any other top-level COMMIT is passed on, and the commit guard (apply.ts) turns it into an error;
 * - `CREATE SCHEMA public;` (pg_dump before 15) becomes `CREATE SCHEMA IF NOT EXISTS public;`, since the
 *   wipe recreates `public` with the target's own owner and grants;
 * - with `privileges: keep`, a GRANT or REVOKE that names a role the target lacks is skipped (and
 *   reported) rather than failing the whole restore.
 *
 * It also numbers the lines psql reads and remembers where each archive entry starts, so that psql's
 * "psql:<stdin>:LINE: ERROR" names the entry that failed. COPY data passes through as bytes, never
 * split into strings, so a row of any size costs no memory.
 */
import { Transform, type TransformCallback } from 'node:stream';
import {
  parseEntryHeader,
  parsePrivilegeStatement,
  privilegeLineVerdict,
  type ScriptEntry,
  type TargetRoles,
} from '../../domain/restore-script.js';

/** SQL lines longer than this are passed through unread: no statement the filter acts on is that long. */
const MAX_SQL_LINE = 1024 * 1024;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
/** How many skipped grants are kept for the summary; the rest are only counted, so memory stays bounded. */
const SKIPPED_GRANTS_KEPT = 200;
const COPY_FROM_STDIN = /^COPY .* FROM stdin;$/;
/** Output is passed on in batches of about this many bytes. */
const OUTPUT_BATCH = 256 * 1024;

export interface SkippedGrant {
  entry: string;
  statement: string;
  reason: string;
}

export interface ScriptFilterOptions {
  /** The line number (1-based) psql gives the first line this filter emits. */
  firstLine: number;
  privileges: 'drop' | 'keep';
  /** The target's roles; needed with privileges: keep. */
  roles?: TargetRoles;
}

export class RestoreScriptFilter extends Transform {
  /** Archive entries in the order psql reads them. */
  readonly entries: ScriptEntry[] = [];
  /** The first SKIPPED_GRANTS_KEPT grants skipped for missing roles (all are counted in skippedGrantCount). */
  readonly skippedGrants: SkippedGrant[] = [];
  skippedGrantCount = 0;
  /** Whether pg_restore's opening BEGIN and closing COMMIT were both found (and removed). */
  sawOpeningBegin = false;
  sawClosingCommit = false;
  /** Top-level COMMITs found in the middle of the script (the commit guard rejects them). */
  strayCommits = 0;

  private nextLine: number;
  private mode: 'sql' | 'data' | 'long-line' = 'sql';
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** The first two bytes of a COPY data line that spans chunks, and its length so far. */
  private readonly dataLineHead = new Uint8Array(2);
  private dataLineLength = 0;
  /** A COMMIT and the comment lines after it, held until we know whether anything follows. */
  private held: string[] | undefined;
  private current: ScriptEntry | undefined;
  /** Output not yet passed on (see pushPieces). */
  private batch: Buffer[] = [];
  private batchBytes = 0;

  constructor(private readonly options: ScriptFilterOptions) {
    super();
    this.nextLine = options.firstLine;
  }

  /** The line number psql will give the next line it reads after this filter's output. */
  get linesEmittedUpTo(): number {
    return this.nextLine;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out: Buffer[] = [];
    let position = 0;
    while (position < chunk.length) {
      if (this.mode === 'data') {
        position = this.scanData(chunk, position, out);
      } else {
        const newline = chunk.indexOf(NEWLINE, position);
        const end = newline < 0 ? chunk.length : newline;
        if (this.mode === 'long-line') {
          out.push(chunk.subarray(position, newline < 0 ? end : end + 1));
          if (newline >= 0) {
            this.nextLine++;
            this.mode = 'sql';
          }
          position = newline < 0 ? chunk.length : newline + 1;
          continue;
        }
        this.partial.push(chunk.subarray(position, end));
        this.partialLength += end - position;
        position = newline < 0 ? chunk.length : newline + 1;
        if (newline >= 0) {
          const line = Buffer.concat(this.partial, this.partialLength).toString('utf8');
          this.partial = [];
          this.partialLength = 0;
          this.sqlLine(line, out);
        } else if (this.partialLength > MAX_SQL_LINE) {
          this.flushHeld(out);
          out.push(...this.partial);
          this.partial = [];
          this.partialLength = 0;
          this.mode = 'long-line';
        }
      }
    }
    this.pushPieces(out);
    callback();
  }

  /**
   * pg_restore writes its script a few KiB at a time, so the pieces arrive small; they are gathered and
   * passed on in batches of about OUTPUT_BATCH bytes, so that psql is written to (and every stage
   * downstream runs) a few thousand times for a large restore instead of a few hundred thousand.
   * Measured: this halves the Node CPU of passing a script through (docs/benchmark.md).
   */
  private pushPieces(pieces: Buffer[], final = false): void {
    for (const piece of pieces) {
      if (piece.length === 0) continue;
      this.batch.push(piece);
      this.batchBytes += piece.length;
    }
    if (this.batchBytes >= OUTPUT_BATCH || (final && this.batchBytes > 0)) {
      this.push(this.batch.length === 1 ? this.batch[0] : Buffer.concat(this.batch, this.batchBytes));
      this.batch = [];
      this.batchBytes = 0;
    }
  }

  override _flush(callback: TransformCallback): void {
    const out: Buffer[] = [];
    if (this.partialLength > 0) {
      const line = Buffer.concat(this.partial, this.partialLength).toString('utf8');
      this.partial = [];
      this.partialLength = 0;
      this.sqlLine(line, out, false);
    }
    if (this.held) {
      // The script's last statement was a COMMIT: pg_restore's own, from --single-transaction. Drop it;
      // Lifeboat commits after its checks. Keep what followed it (comments, psql's \unrestrict).
      const [, ...after] = this.held;
      this.held = undefined;
      this.sawClosingCommit = true;
      this.emitLine("-- (pg_restore's COMMIT removed: Lifeboat commits after its checks)", out);
      for (const line of after) this.emitLine(line, out);
    }
    this.pushPieces(out, true);
    callback();
  }

  /**
   * Passes COPY data through untouched, counting lines, until the line `\.` ends it. This is the hot
   * loop of a restore (every row passes here), so it compares bytes, never making strings.
   */
  private scanData(chunk: Buffer, start: number, out: Buffer[]): number {
    let position = start;
    while (position < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, position);
      if (newline < 0) {
        // The line goes on in the next chunk: remember its first two bytes.
        let i = position;
        while (i < chunk.length && this.dataLineLength < 2) this.dataLineHead[this.dataLineLength++] = chunk[i++]!;
        this.dataLineLength += chunk.length - i;
        position = chunk.length;
        break;
      }
      const length = this.dataLineLength + (newline - position);
      let endOfData = false;
      if (length === 2) {
        const first = this.dataLineLength > 0 ? this.dataLineHead[0] : chunk[position];
        const second = this.dataLineLength > 1 ? this.dataLineHead[1] : this.dataLineLength === 1 ? chunk[position] : chunk[position + 1];
        endOfData = first === BACKSLASH && second === DOT;
      }
      this.nextLine++;
      this.dataLineLength = 0;
      position = newline + 1;
      if (endOfData) {
        this.mode = 'sql';
        break;
      }
    }
    out.push(chunk.subarray(start, position));
    return position;
  }

  private emitLine(line: string, out: Buffer[]): void {
    out.push(Buffer.from(line + '\n'));
    this.nextLine++;
  }

  private flushHeld(out: Buffer[]): void {
    if (!this.held) return;
    const lines = this.held;
    this.held = undefined;
    this.strayCommits++;
    for (const line of lines) this.emitLine(line, out);
  }

  private sqlLine(line: string, out: Buffer[], endsWithNewline = true): void {
    if (this.held) {
      if (line === '' || line.startsWith('--') || line.startsWith('\\unrestrict ')) {
        this.held.push(line);
        return;
      }
      this.flushHeld(out);
    }
    const header = parseEntryHeader(line, this.nextLine);
    if (header) {
      this.entries.push(header);
      this.current = header;
    }
    let text = line;
    if (!this.sawOpeningBegin && line === 'BEGIN;') {
      this.sawOpeningBegin = true;
      text = "-- (pg_restore's BEGIN removed: Lifeboat's transaction is already open)";
    } else if (line === 'COMMIT;') {
      this.held = [line];
      return;
    } else if (line === 'CREATE SCHEMA public;') {
      text = 'CREATE SCHEMA IF NOT EXISTS public;';
    } else if (this.options.privileges === 'keep' && this.current && /ACL$/.test(this.current.type)) {
      text = this.privilegeLine(line);
    }
    if (endsWithNewline) this.emitLine(text, out);
    else {
      out.push(Buffer.from(text));
    }
    if (COPY_FROM_STDIN.test(line)) this.mode = 'data';
  }

  private privilegeLine(line: string): string {
    const statement = parsePrivilegeStatement(line);
    if (!statement || !this.options.roles) return line;
    const verdict = privilegeLineVerdict(statement, this.options.roles);
    if (verdict.apply) return line;
    if (statement.kind !== 'session-authorization') {
      const entry = this.current!;
      this.skippedGrantCount++;
      if (this.skippedGrants.length < SKIPPED_GRANTS_KEPT) this.skippedGrants.push({ entry: `${entry.type} ${entry.schema === '-' ? '' : entry.schema + '.'}${entry.name}`, statement: line, reason: verdict.reason });
    }
    return `-- (skipped by Lifeboat: ${verdict.reason.replace(/\n/g, ' ')})`;
  }
}
