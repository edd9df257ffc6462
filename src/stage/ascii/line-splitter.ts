/**
 * Splits a serial byte stream into lines of printable ASCII. Controllers of this kind (GRBL, Prior ProScan, ASI, Ludl)
 * speak in short ASCII lines; anything else on the wire — line noise, a baud-rate mismatch, a half-written line when
 * the cable was pulled — becomes a counted 'garbage' frame instead of a parse error further up.
 *
 * Bounded: a line longer than `maxLineBytes` is reported once as garbage and the rest of it is skipped up to the next
 * terminator, so a stream without terminators never grows memory.
 */
export interface LineFrame {
  kind: 'line';
  text: string;
}

export interface GarbageFrame {
  kind: 'garbage';
  /** What was received, escaped for a log line (at most maxLineBytes of it). */
  text: string;
  reason: 'non-ascii' | 'overlong';
}

export type SplitFrame = LineFrame | GarbageFrame;

export interface LineSplitterOptions {
  /** Byte that ends a line (GRBL: LF; ProScan: CR). */
  terminator: number;
  /** Bytes dropped wherever they appear (the other half of CR LF). */
  ignore?: readonly number[];
  maxLineBytes: number;
}

export const CR = 0x0d;
export const LF = 0x0a;

export class LineSplitter {
  private readonly buf: Buffer;
  private len = 0;
  private skipping = false;
  private readonly ignore: Set<number>;

  constructor(private readonly opts: LineSplitterOptions) {
    this.buf = Buffer.alloc(opts.maxLineBytes);
    this.ignore = new Set(opts.ignore ?? []);
  }

  /** Feeds bytes; calls `emit` for every complete line (or garbage) in order. */
  push(chunk: Uint8Array, emit: (f: SplitFrame) => void): void {
    const term = this.opts.terminator;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === term) {
        if (this.skipping) this.skipping = false;
        else if (this.len > 0) emit(this.take());
        this.len = 0;
        continue;
      }
      if (this.skipping || this.ignore.has(b)) continue;
      if (this.len === this.buf.length) {
        emit({ kind: 'garbage', text: escape(this.buf.subarray(0, this.len)), reason: 'overlong' });
        this.len = 0;
        this.skipping = true;
        continue;
      }
      this.buf[this.len++] = b;
    }
  }

  /** Bytes of an unfinished line (e.g. when the link closes); they are dropped. */
  get pendingBytes(): number {
    return this.len;
  }

  reset(): void {
    this.len = 0;
    this.skipping = false;
  }

  private take(): SplitFrame {
    const bytes = this.buf.subarray(0, this.len);
    for (const b of bytes) {
      if (b < 0x20 || b > 0x7e) return { kind: 'garbage', text: escape(bytes), reason: 'non-ascii' };
    }
    return { kind: 'line', text: bytes.toString('latin1') };
  }
}

/** Printable rendering of received bytes for logs: ASCII as is, everything else as \xNN. */
export function escape(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b <= 0x7e && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return s;
}
