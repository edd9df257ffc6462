/**
 * What the twin's controller firmware simulators share: a byte link to the host (in-process stream or pty), the
 * mapping between the stage physics (µm) and the controller's coordinates, event scheduling on the shared Clock, and
 * fault injection.
 *
 * State is lazy: positions and busy flags are computed from `clock.now()` and the physics whenever the host asks.
 * Timers exist only for what the firmware does on its own (a queued move starting when the previous one ends, an `ok`
 * owed when the planner empties, a fault due at a given instrument time).
 *
 * Clock: under the twin's SimClock, instrument time jumps to the next pending sleep and I/O costs none. When the
 * firmware sends something on its own initiative (from a timer), those bytes take real time to reach the host; the
 * firmware therefore holds instrument time still (`holdTime`) until the host sends its next byte or `holdGraceMs`
 * (250 ms) of real time pass, so time cannot jump past the moment the host hears the news. Replies to the host's own
 * requests need no hold: the host holds time while it waits for them.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { Clock } from '../../kernel/clock.js';
import { holdTime } from '../../stage/hold-time.js';
import { Rng } from '../rng.js';
import { AXES, type StagePhysics, type Vec3 } from '../stage-physics.js';

export interface FirmwareFaults {
  /** Every byte the firmware sends leaves this much real time later (late replies). */
  replyDelayMs: number;
  /** Chance (0…1) that a burst of line noise goes out before a line. */
  garbageProbability: number;
  /** The next N lines the firmware sends are garbled on the wire. */
  corruptNextLines: number;
  /** The firmware stops answering altogether (hung board). */
  silent: boolean;
  /** Raise an alarm (GRBL: hard limit; ProScan: limit switch) this many instrument ms into the next move. */
  alarmDuringNextMove: { afterMs: number; code?: number } | null;
}

export interface FirmwareStats {
  bytesIn: number;
  bytesOut: number;
  linesIn: number;
  linesOut: number;
  garbageBursts: number;
  corruptedLines: number;
  /** Bytes lost because the host overflowed the receive buffer. */
  rxOverflowBytes: number;
  attaches: number;
}

export interface FirmwareBaseOptions {
  /** Controller axis counts the opposite way to the stage physics. */
  invert?: Partial<Record<'x' | 'y' | 'z', boolean>>;
  /** Real ms the firmware holds the clock after sending on its own initiative. */
  holdGraceMs?: number;
  /** Seed for the noise bytes. */
  seed?: number;
}

const MAX_LOG = 2000;

export abstract class SerialFirmware extends EventEmitter {
  readonly faults: FirmwareFaults = { replyDelayMs: 0, garbageProbability: 0, corruptNextLines: 0, silent: false, alarmDuringNextMove: null };
  readonly stats: FirmwareStats = { bytesIn: 0, bytesOut: 0, linesIn: 0, linesOut: 0, garbageBursts: 0, corruptedLines: 0, rxOverflowBytes: 0, attaches: 0 };
  /** Lines received from the host, oldest first (bounded): what the controller was asked to do. */
  readonly received: string[] = [];
  /** Physics coordinates of the controller's zero. */
  protected origin: Vec3 = [0, 0, 0];
  protected readonly sign: Vec3;
  private link: Duplex | null = null;
  private readonly onData = (chunk: Buffer): void => {
    this.releaseHold();
    this.stats.bytesIn += chunk.length;
    this.input(chunk);
  };
  private wake: { at: number; ac: AbortController } | null = null;
  private clockHold: (() => void) | null = null;
  private readonly rng: Rng;
  private readonly holdGraceMs: number;
  private closed = false;

  constructor(
    readonly physics: StagePhysics,
    protected readonly clock: Clock,
    base: FirmwareBaseOptions = {},
  ) {
    super();
    this.sign = AXES.map((a) => (base.invert?.[a] ? -1 : 1)) as Vec3;
    this.rng = new Rng(base.seed ?? 7, 99);
    this.holdGraceMs = base.holdGraceMs ?? 250;
  }

  /** Connects the firmware's serial port to a link (replacing any previous one). */
  attach(link: Duplex): void {
    this.detach();
    this.link = link;
    this.stats.attaches++;
    link.on('data', this.onData);
    link.on('close', () => {
      if (this.link === link) this.link = null;
    });
    link.on('error', () => undefined);
    this.onAttach();
  }

  /** Drops the link without closing it (the caller owns it). */
  detach(): void {
    if (!this.link) return;
    this.link.off('data', this.onData);
    this.link = null;
    this.releaseHold();
  }

  get attached(): boolean {
    return this.link !== null;
  }

  /** Stops timers and holds; the physics keeps whatever it was doing. */
  shutdown(): void {
    this.closed = true;
    this.detach();
    this.wake?.ac.abort();
    this.wake = null;
  }

  // ---- physics ↔ controller -----------------------------------------------------------------------------------

  /** Physics µm → controller µm (origin and direction applied; the protocol scales to its own units). */
  protected toCtrlUm(p: Vec3): Vec3 {
    return [0, 1, 2].map((i) => this.sign[i]! * (p[i]! - this.origin[i]!)) as Vec3;
  }

  protected toPhysUm(c: Vec3): Vec3 {
    return [0, 1, 2].map((i) => this.origin[i]! + this.sign[i]! * c[i]!) as Vec3;
  }

  // ---- output -----------------------------------------------------------------------------------------------------

  /** Sends one line (terminator included by the caller); `own`: sent on the firmware's initiative (from a timer). */
  protected sendLine(line: string, own = false): void {
    this.stats.linesOut++;
    if (this.faults.silent || !this.link) return;
    const f = this.faults;
    if (f.garbageProbability > 0 && this.rng.next() < f.garbageProbability) {
      this.stats.garbageBursts++;
      this.rawWrite(this.noise());
    }
    let bytes = Buffer.from(line, 'latin1');
    if (f.corruptNextLines > 0) {
      f.corruptNextLines--;
      this.stats.corruptedLines++;
      bytes = Buffer.from(bytes);
      // A flipped high bit in the first character: the line can no longer be taken for anything valid.
      bytes[0] = bytes[0]! | 0x80;
    }
    this.rawWrite(bytes);
    if (own) this.holdClock();
  }

  /** Writes noise now (outside any reply): bytes with the high bit set, then the line terminator. */
  injectGarbage(length = 8): void {
    this.stats.garbageBursts++;
    this.rawWrite(this.noise(length));
  }

  private noise(length = this.rng.int(3, 12)): Buffer {
    const b = Buffer.alloc(length + 1);
    for (let i = 0; i < length; i++) b[i] = 0x80 | this.rng.int(0, 0x7f);
    b[length] = this.terminator;
    return b;
  }

  private rawWrite(bytes: Buffer): void {
    const link = this.link;
    if (!link) return;
    const write = (): void => {
      if (link.destroyed || link !== this.link) return;
      this.stats.bytesOut += bytes.length;
      link.write(bytes);
    };
    if (this.faults.replyDelayMs > 0) setTimeout(write, this.faults.replyDelayMs);
    else write();
  }

  private holdClock(): void {
    if (this.clockHold) return;
    void holdTime(
      this.clock,
      () =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => this.releaseHold(), this.holdGraceMs);
          this.clockHold = () => {
            clearTimeout(t);
            this.clockHold = null;
            resolve();
          };
        }),
    );
  }

  private releaseHold(): void {
    this.clockHold?.();
  }

  // ---- scheduling -------------------------------------------------------------------------------------------------

  /** Asks for `advance()` at instrument time `at` (keeps only the earliest request). */
  protected wakeAt(at: number): void {
    if (this.closed || !Number.isFinite(at)) return;
    if (this.wake && this.wake.at <= at && !this.wake.ac.signal.aborted) return;
    this.wake?.ac.abort();
    const ac = new AbortController();
    this.wake = { at, ac };
    this.clock.sleep(Math.max(0, at - this.clock.now()), ac.signal).then(
      () => {
        if (this.wake?.ac !== ac) return;
        this.wake = null;
        this.advance(this.clock.now(), true);
      },
      () => undefined,
    );
  }

  protected logReceived(line: string): void {
    this.stats.linesIn++;
    this.received.push(line);
    if (this.received.length > MAX_LOG) this.received.splice(0, this.received.length - MAX_LOG);
  }

  /** The protocol's line terminator byte (noise bursts end with it so they form a line of their own). */
  protected abstract readonly terminator: number;
  /** Bytes from the host. */
  protected abstract input(chunk: Buffer): void;
  /** Brings the firmware's state up to instrument time `now`; `own`: called from a timer. */
  protected abstract advance(now: number, own: boolean): void;
  /** A new link came up. */
  protected abstract onAttach(): void;
}
