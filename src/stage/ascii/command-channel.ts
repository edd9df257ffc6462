/**
 * A request/reply channel for CR-terminated ASCII controllers that answer every command with one line: a value, an
 * acknowledgement (ProScan "R" / "0", ASI ":A") or an error ("E,n", ":N-n"). One command is on the wire at a time; the
 * caller states the shape of the reply it expects, so a stray or late line (from a command that timed out) is counted
 * and skipped instead of being taken as the answer. Reply timeouts are real time (they guard I/O, not the instrument).
 *
 * Protocols plug in their framing and error syntax ({@link AsciiDialect}); ProScan is the first (src/stage/proscan/).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { stageError } from '../stage.js';
import { LineSplitter, type SplitFrame } from './line-splitter.js';

export interface AsciiDialect {
  /** Controller name for messages ("ProScan"). */
  name: string;
  terminator: number;
  ignore?: readonly number[];
  maxLineBytes: number;
  /** Recognises an error reply and says what it means; null for anything else. */
  parseError(line: string): { firmwareCode: string; meaning: string } | null;
}

export interface RequestOptions {
  /** Shape of a good reply; other lines are skipped as stray. */
  expect: RegExp;
  /** Real-time ms to wait for the reply. */
  timeoutMs?: number;
  /** Re-sends after a timeout (only for commands that are safe to repeat: queries). */
  retries?: number;
}

export interface AsciiChannelStats {
  commands: number;
  garbageLines: number;
  /** Lines that matched no command waiting for them (late replies, unsolicited output). */
  strayLines: number;
  timeouts: number;
  retries: number;
}

interface Pending {
  cmd: string;
  opts: RequestOptions;
  triesLeft: number;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

export class AsciiCommandChannel extends EventEmitter {
  readonly stats: AsciiChannelStats = { commands: 0, garbageLines: 0, strayLines: 0, timeouts: 0, retries: 0 };
  private readonly splitter: LineSplitter;
  private readonly queue: Pending[] = [];
  private current: Pending | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** After a timeout, lines arriving before this real time (ms) are a late reply to the abandoned command. */
  private drainUntil = 0;
  private drainTimer: NodeJS.Timeout | null = null;
  private closed: Error | null = null;
  private readonly onData = (chunk: Buffer): void => this.splitter.push(chunk, (f) => this.onFrame(f));

  constructor(
    private readonly stream: Duplex,
    private readonly dialect: AsciiDialect,
    private readonly opts: { replyTimeoutMs: number; maxQueue?: number },
  ) {
    super();
    this.splitter = new LineSplitter({ terminator: dialect.terminator, ignore: dialect.ignore, maxLineBytes: dialect.maxLineBytes });
    stream.on('data', this.onData);
  }

  /** Sends `cmd` (terminator added) and resolves with the reply line. */
  request(cmd: string, opts: RequestOptions): Promise<string> {
    if (this.closed) return Promise.reject(this.closed);
    if (!/^[\x20-\x7e]+$/.test(cmd))
      return Promise.reject(new RangeError(`${this.dialect.name} command ${JSON.stringify(cmd)} is not one line of printable ASCII`));
    if (this.queue.length >= (this.opts.maxQueue ?? 64)) {
      return Promise.reject(stageError(`${this.dialect.name} command queue is full (${this.queue.length} waiting)`, { code: 'NOT_READY' }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ cmd, opts, triesLeft: opts.retries ?? 0, resolve, reject });
      this.next();
    });
  }

  /** Writes raw bytes outside the request flow (single-character commands some controllers act on at once). */
  writeRaw(bytes: Buffer): void {
    if (!this.closed) this.stream.write(bytes);
  }

  close(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    this.stream.off('data', this.onData);
    if (this.timer) clearTimeout(this.timer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    const all = this.current ? [this.current, ...this.queue] : [...this.queue];
    this.current = null;
    this.queue.length = 0;
    for (const p of all) p.reject(err);
  }

  private next(): void {
    if (this.current || this.closed || this.queue.length === 0) return;
    const wait = this.drainUntil - performance.now();
    if (wait > 0) {
      if (!this.drainTimer) {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.next();
        }, wait);
      }
      return;
    }
    this.current = this.queue.shift()!;
    this.transmit(this.current);
  }

  private transmit(p: Pending): void {
    this.stats.commands++;
    const term = String.fromCharCode(this.dialect.terminator);
    const timeoutMs = p.opts.timeoutMs ?? this.opts.replyTimeoutMs;
    // The timer is armed before the write: a link may deliver the reply inside write().
    this.timer = setTimeout(() => {
      this.timer = null;
      this.stats.timeouts++;
      // Whatever answer is still on its way belongs to this command: give it another time-out (at most 1 s) to pass
      // before the next command goes out, so it cannot be taken for that command's answer.
      this.drainUntil = performance.now() + Math.min(1000, timeoutMs);
      if (p.triesLeft > 0) {
        p.triesLeft--;
        this.stats.retries++;
        this.current = null;
        this.queue.unshift(p);
        this.next();
        return;
      }
      this.current = null;
      p.reject(stageError(`${this.dialect.name} did not answer "${p.cmd}" within ${timeoutMs} ms`, { code: 'TIMEOUT' }));
      this.next();
    }, timeoutMs);
    this.stream.write(Buffer.from(p.cmd + term, 'latin1'));
  }

  private onFrame(f: SplitFrame): void {
    if (f.kind === 'garbage') {
      this.stats.garbageLines++;
      this.emit('garbage', f);
      return;
    }
    const p = this.current;
    if (!p || performance.now() < this.drainUntil) {
      this.stats.strayLines++;
      this.emit('stray', f.text);
      return;
    }
    const err = this.dialect.parseError(f.text);
    if (!err && !p.opts.expect.test(f.text)) {
      this.stats.strayLines++;
      this.emit('stray', f.text);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.current = null;
    if (err) {
      p.reject(
        stageError(`${this.dialect.name} ${err.firmwareCode} (${err.meaning}) for "${p.cmd}"`, { code: 'CONTROLLER_ERROR', firmwareCode: err.firmwareCode }),
      );
    } else {
      p.resolve(f.text);
    }
    this.next();
  }
}
