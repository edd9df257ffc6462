/**
 * The GRBL 1.1 line stream with character-counting flow control: lines go out only while the bytes of every line not
 * yet acknowledged fit in the controller's receive buffer (128 bytes on an Uno); each `ok` / `error:N` acknowledges
 * the oldest line (https://github.com/gnea/grbl/wiki/Grbl-v1.1-Interface#streaming-protocol-character-counting-recommended-with-reservation).
 * Real-time bytes (`?`, `!`, `~`, Ctrl-X) bypass the buffer. Status queries are coalesced: GRBL ignores a `?` while
 * another is pending, so one outstanding query serves every caller.
 *
 * Reply time-outs: GRBL answers lines in order, and a motion line is answered only once the planner has room for it,
 * which can take as long as the moves ahead of it. So only the oldest unanswered line has a running timer, and when it
 * runs out the controller is asked (`?`): a controller that is moving with a full planner (`Bf:0,…`, or Run/Jog/Hold
 * when it does not report buffers) is busy with earlier lines, and the timer starts again. Only a controller that is
 * silent, or idle with the line unanswered, times it out.
 *
 * Replies left on the line from an earlier session (an `ok` in the adapter's buffer when the port is opened) would be
 * taken for the answer to the next line. A line sent with `expect` (e.g. `$I` must bring `[VER:…]`) does not accept
 * an `ok` without the frames it expects: that `ok` is counted as stale and skipped.
 *
 * Bad input never throws: garbage lines, acknowledgements with no line waiting and late replies are counted.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { stageError, type StageError } from '../stage.js';
import { grblErrorText } from './codes.js';
import { GrblFrameReader, type GrblFrame, type GrblStatus } from './parser.js';
import { lineBytes, RT } from './writer.js';

export interface GrblChannelStats {
  linesSent: number;
  bytesSent: number;
  statusReports: number;
  garbageLines: number;
  /** Acknowledgements that arrived after their line had timed out. */
  lateReplies: number;
  /** Lines whose acknowledgement never came (garbled on the wire), found out by {@link GrblChannel.resyncLostAcks}. */
  lostAcks: number;
  /** `ok` / `error:N` with no line waiting for one. */
  strayAcks: number;
  timeouts: number;
  missedStatus: number;
  /** `ok`s that could not be the answer to the line waiting (left on the line from an earlier session). */
  staleReplies: number;
  /** Reply timers that ran out while the controller was busy with earlier lines, and were started again. */
  busyExtensions: number;
}

interface LineEntry {
  line: string;
  bytes: Buffer;
  collected: GrblFrame[];
  resolve: (frames: GrblFrame[]) => void;
  reject: (err: Error) => void;
  timeoutMs: number | null;
  expect?: (frames: GrblFrame[]) => boolean;
  timer?: NodeJS.Timeout;
  done: boolean;
  timedOut: boolean;
}

export interface SendOptions {
  /**
   * Real-time ms to wait for the acknowledgement once every line before it is answered (longer while the controller
   * shows it is busy with earlier lines); null: wait as long as it takes.
   */
  timeoutMs?: number | null;
  /** Frames the answer must bring before its `ok` (an `ok` without them is a stale reply and is skipped). */
  expect?: (frames: GrblFrame[]) => boolean;
}

const BUSY_STATES = new Set(['Run', 'Jog', 'Hold', 'Home', 'Door']);

export class GrblChannel extends EventEmitter {
  readonly stats: GrblChannelStats = {
    linesSent: 0,
    bytesSent: 0,
    statusReports: 0,
    garbageLines: 0,
    lateReplies: 0,
    lostAcks: 0,
    strayAcks: 0,
    timeouts: 0,
    missedStatus: 0,
    staleReplies: 0,
    busyExtensions: 0,
  };
  private readonly reader = new GrblFrameReader();
  private sent: LineEntry[] = [];
  private waiting: LineEntry[] = [];
  private inFlight = 0;
  private statusWaiters: Array<{ resolve: (s: GrblStatus) => void; reject: (e: Error) => void }> = [];
  private statusTimer: NodeJS.Timeout | null = null;
  private closed: Error | null = null;
  private readonly onData = (chunk: Buffer): void => this.reader.push(chunk, (f) => this.onFrame(f));

  constructor(
    private readonly stream: Duplex,
    private readonly opts: { rxBufferBytes: number; replyTimeoutMs: number },
  ) {
    super();
    stream.on('data', this.onData);
  }

  get rxBufferBytes(): number {
    return this.opts.rxBufferBytes;
  }

  set rxBufferBytes(n: number) {
    this.opts.rxBufferBytes = n;
    this.pump();
  }

  /** Bytes sent and not yet acknowledged. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Lines sent or queued whose acknowledgement has not come. */
  get pendingLines(): number {
    return this.sent.length + this.waiting.length;
  }

  /** Sends a line; resolves with the frames GRBL sent before its `ok` ($$, $I), rejects on `error:N`. */
  send(line: string, opts: SendOptions = {}): Promise<GrblFrame[]> {
    if (this.closed) return Promise.reject(this.closed);
    const bytes = lineBytes(line);
    if (bytes.length > this.opts.rxBufferBytes) {
      return Promise.reject(new RangeError(`GRBL line "${line}" (${bytes.length} bytes) does not fit the ${this.opts.rxBufferBytes}-byte receive buffer`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({
        line,
        bytes,
        collected: [],
        resolve,
        reject,
        timeoutMs: opts.timeoutMs === undefined ? this.opts.replyTimeoutMs : opts.timeoutMs,
        expect: opts.expect,
        done: false,
        timedOut: false,
      });
      this.pump();
    });
  }

  /** Sends a real-time command byte. */
  realtime(byte: number): void {
    if (this.closed) return;
    this.stream.write(Buffer.of(byte));
    this.stats.bytesSent++;
  }

  /**
   * Asks for a status report (`?`); concurrent callers share one query. `fresh`: the report must be generated after
   * this call (a query already outstanding is waited out first, since GRBL ignores a second `?` until it has answered).
   */
  status(timeoutMs = this.opts.replyTimeoutMs, opts: { fresh?: boolean } = {}): Promise<GrblStatus> {
    if (this.closed) return Promise.reject(this.closed);
    if (opts.fresh && this.statusTimer) {
      const settled = new Promise<void>((resolve) => this.statusWaiters.push({ resolve: () => resolve(), reject: () => resolve() }));
      return settled.then(() => this.status(timeoutMs, opts));
    }
    return new Promise((resolve, reject) => {
      this.statusWaiters.push({ resolve, reject });
      if (this.statusTimer) return;
      this.statusTimer = setTimeout(() => {
        this.statusTimer = null;
        this.stats.missedStatus++;
        const ws = this.statusWaiters;
        this.statusWaiters = [];
        for (const w of ws) w.reject(stageError(`GRBL sent no status report within ${timeoutMs} ms`, { code: 'TIMEOUT' }));
      }, timeoutMs);
      this.realtime(RT.STATUS);
    });
  }

  /**
   * Called when the controller reports Idle with empty buffers while lines are still unacknowledged: every line was
   * processed, so the missing `ok`s were lost on the wire. Resolves their callers and frees the byte count.
   */
  resyncLostAcks(): number {
    const lost = this.sent.length;
    for (const e of this.sent) this.finish(e, null, []);
    this.stats.lostAcks += lost;
    this.sent = [];
    this.inFlight = 0;
    this.pump();
    return lost;
  }

  /** Fails everything pending (link closed, or the driver gives up); later calls reject with `err`. */
  close(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    this.stream.off('data', this.onData);
    this.failAll(err);
  }

  private failAll(err: Error, includeStatus = true): void {
    for (const e of [...this.sent, ...this.waiting]) this.finish(e, err);
    this.sent = [];
    this.waiting = [];
    this.inFlight = 0;
    if (!includeStatus) return;
    if (this.statusTimer) clearTimeout(this.statusTimer);
    this.statusTimer = null;
    const ws = this.statusWaiters;
    this.statusWaiters = [];
    for (const w of ws) w.reject(err);
  }

  private pump(): void {
    while (!this.closed && this.waiting.length > 0 && this.inFlight + this.waiting[0]!.bytes.length <= this.opts.rxBufferBytes) {
      const e = this.waiting.shift()!;
      this.sent.push(e);
      this.inFlight += e.bytes.length;
      this.stats.linesSent++;
      this.stats.bytesSent += e.bytes.length;
      this.stream.write(e.bytes);
    }
    this.armOldest();
  }

  /** Starts the reply timer of the oldest line still waiting for its answer (GRBL answers in order). */
  private armOldest(): void {
    const e = this.sent.find((x) => !x.done);
    if (!e || e.timer || e.timeoutMs === null || this.closed) return;
    e.timer = setTimeout(() => this.expired(e), e.timeoutMs);
  }

  private expired(e: LineEntry): void {
    e.timer = undefined;
    if (e.done || this.closed) return;
    // Busy or silent? Ask; a report showing the controller working through earlier lines restarts the timer.
    this.status(this.opts.replyTimeoutMs).then(
      (st) => {
        if (e.done || this.closed) return;
        const busy = BUSY_STATES.has(st.state) && (st.bufferBlocks === undefined || st.bufferBlocks === 0 || st.state === 'Hold' || st.state === 'Home');
        if (busy) {
          this.stats.busyExtensions++;
          this.armOldest();
        } else this.timeOut(e);
      },
      () => {
        if (!e.done) this.timeOut(e);
      },
    );
  }

  private timeOut(e: LineEntry): void {
    this.stats.timeouts++;
    e.timedOut = true;
    // The line stays counted: its bytes are in the controller's buffer until the late acknowledgement comes.
    this.finish(e, stageError(`GRBL did not acknowledge "${e.line}" within ${e.timeoutMs} ms`, { code: 'TIMEOUT' }));
    this.armOldest();
  }

  private finish(e: LineEntry, err: Error | null, frames: GrblFrame[] = e.collected): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = undefined;
    if (e.done) return;
    e.done = true;
    if (err) e.reject(err);
    else e.resolve(frames);
  }

  private onFrame(f: GrblFrame): void {
    switch (f.type) {
      case 'ok':
      case 'error': {
        const head = this.sent[0];
        if (!head) {
          this.stats.strayAcks++;
          this.emit('stray', f);
          return;
        }
        if (f.type === 'ok' && head.expect && !head.done && !head.expect(head.collected)) {
          this.stats.staleReplies++;
          head.collected = [];
          this.emit('stale', f);
          return;
        }
        this.sent.shift();
        this.inFlight -= head.bytes.length;
        if (head.timedOut) this.stats.lateReplies++;
        if (f.type === 'ok') this.finish(head, null);
        else this.finish(head, controllerError(f.code, head.line));
        this.pump();
        this.armOldest();
        return;
      }
      case 'status': {
        this.stats.statusReports++;
        if (this.statusTimer) clearTimeout(this.statusTimer);
        this.statusTimer = null;
        const ws = this.statusWaiters;
        this.statusWaiters = [];
        for (const w of ws) w.resolve(f.status);
        this.emit('status', f.status);
        return;
      }
      case 'alarm':
        this.emit('alarm', f.code);
        return;
      case 'welcome':
        // A reset (Ctrl-X, power, a board that resets when the port opens) empties GRBL's buffers: nothing sent before
        // it will be acknowledged. A pending status query may or may not be answered; its own time-out decides.
        this.failAll(stageError(`GRBL was reset (banner "${f.text}"); unacknowledged lines were discarded`, { code: 'CANCELED' }), false);
        this.emit('reset', f);
        return;
      case 'garbage':
        this.stats.garbageLines++;
        this.emit('garbage', f);
        return;
      case 'message':
        if (f.tag !== 'MSG' && this.sent[0]) this.sent[0].collected.push(f);
        this.emit('message', f);
        return;
      default:
        if (this.sent[0]) this.sent[0].collected.push(f);
    }
  }
}

export function controllerError(code: number, line: string): StageError {
  return stageError(`GRBL error:${code} (${grblErrorText(code)}) for "${line}"`, { code: 'CONTROLLER_ERROR', firmwareCode: `error:${code}` });
}
