/**
 * systemd's notification protocol (sd_notify(3)): READY, STATUS, WATCHDOG and STOPPING datagrams on $NOTIFY_SOCKET.
 * Node cannot send unix datagrams, so the send is native (native/src/sd-notify.cc). Outside systemd (no
 * NOTIFY_SOCKET) every call is a no-op returning false, so the same code runs under `node` and under the unit.
 */
import { nativeAddon } from '../native/binding.js';
import { expectString, rangeError } from '../native/expect.js';

export interface NotifierOptions {
  /** Socket path or @abstract name; default $NOTIFY_SOCKET. */
  socketPath?: string;
  /** Environment to read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Sends one raw state string ("READY=1\nSTATUS=…"); false when not running under systemd. */
export function sdNotify(state: string, socketPath?: string): boolean {
  expectString(state, 'state');
  if (socketPath !== undefined) expectString(socketPath, 'socketPath');
  return nativeAddon().sdNotify(state, socketPath);
}

export class SystemdNotifier {
  private readonly socketPath: string | undefined;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: NotifierOptions = {}) {
    this.env = opts.env ?? process.env;
    this.socketPath = opts.socketPath ?? this.env.NOTIFY_SOCKET;
  }

  /** True when a notification socket is configured. */
  get enabled(): boolean {
    return !!this.socketPath;
  }

  ready(status?: string): boolean {
    return this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
  }

  status(text: string): boolean {
    return this.send(`STATUS=${oneLine(text)}`);
  }

  watchdog(): boolean {
    return this.send('WATCHDOG=1');
  }

  stopping(status?: string): boolean {
    return this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  /**
   * The watchdog period systemd expects (WatchdogSec), or null when the watchdog is off or meant for another process.
   * Feed it at half this interval.
   */
  watchdogIntervalMs(): number | null {
    const usec = this.env.WATCHDOG_USEC;
    if (!usec) return null;
    const pid = this.env.WATCHDOG_PID;
    if (pid && Number(pid) !== process.pid) return null;
    const v = Number(usec);
    if (!Number.isInteger(v) || v <= 0) throw rangeError('a positive integer of microseconds', 'WATCHDOG_USEC', usec);
    return v / 1000;
  }

  private send(state: string): boolean {
    if (!this.socketPath) return false;
    return sdNotify(state, this.socketPath);
  }
}

/** STATUS= ends at a newline: a multi-line status would be read as further assignments. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
