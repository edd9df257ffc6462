import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemdNotifier, sdNotify } from '../../src/ops/sd-notify.js';

/**
 * A real AF_UNIX datagram socket, bound by Debian's python3 (Node has none): prints each datagram as one JSON line.
 * `@name` binds in the abstract namespace, as systemd's own NOTIFY_SOCKET may.
 */
class DatagramListener {
  private readonly lines: string[] = [];
  private readonly waiters: Array<() => void> = [];
  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async start(address: string): Promise<DatagramListener> {
    const script = [
      'import socket, sys, json',
      'a = sys.argv[1]',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      "s.bind('\\0' + a[1:] if a.startswith('@') else a)",
      "print('bound', flush=True)",
      'while True:',
      '    print(json.dumps(s.recv(65536).decode()), flush=True)',
    ].join('\n');
    const child = spawn('/usr/bin/python3', ['-c', script, address], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = new DatagramListener(child);
    expect(await l.next()).toBe('bound');
    return l;
  }

  async next(): Promise<string> {
    while (this.lines.length === 0) await new Promise<void>((r) => this.waiters.push(r));
    const line = this.lines.shift()!;
    return line === 'bound' ? line : (JSON.parse(line) as string);
  }

  stop(): void {
    this.child.kill();
  }
}

describe('sd_notify', () => {
  let dir: string;
  let file: DatagramListener;
  let abstract: DatagramListener;
  const abstractName = `@smartscope-test-${process.pid}`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'smartscope-notify-'));
    file = await DatagramListener.start(path.join(dir, 'notify.sock'));
    abstract = await DatagramListener.start(abstractName);
  });

  afterAll(() => {
    file?.stop();
    abstract?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends READY, STATUS, WATCHDOG and STOPPING to a socket path', async () => {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: path.join(dir, 'notify.sock') } });
    expect(n.enabled).toBe(true);
    expect(n.ready('scanning')).toBe(true);
    expect(await file.next()).toBe('READY=1\nSTATUS=scanning');
    expect(n.status('tile 3/40\nline two')).toBe(true);
    expect(await file.next()).toBe('STATUS=tile 3/40 line two');
    expect(n.watchdog()).toBe(true);
    expect(await file.next()).toBe('WATCHDOG=1');
    expect(n.stopping()).toBe(true);
    expect(await file.next()).toBe('STOPPING=1');
  });

  it('sends to an abstract socket named with @', async () => {
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: abstractName } });
    expect(n.ready()).toBe(true);
    expect(await abstract.next()).toBe('READY=1');
    expect(sdNotify('STATUS=direct', abstractName)).toBe(true);
    expect(await abstract.next()).toBe('STATUS=direct');
  });

  it('is a no-op outside systemd', () => {
    const n = new SystemdNotifier({ env: {} });
    expect(n.enabled).toBe(false);
    expect(n.ready()).toBe(false);
    expect(n.watchdogIntervalMs()).toBeNull();
  });

  it('reads the watchdog interval, for this process only', () => {
    expect(new SystemdNotifier({ env: { WATCHDOG_USEC: '20000000' } }).watchdogIntervalMs()).toBe(20000);
    expect(new SystemdNotifier({ env: { WATCHDOG_USEC: '20000000', WATCHDOG_PID: String(process.pid) } }).watchdogIntervalMs()).toBe(20000);
    expect(new SystemdNotifier({ env: { WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' } }).watchdogIntervalMs()).toBeNull();
    expect(() => new SystemdNotifier({ env: { WATCHDOG_USEC: 'soon' } }).watchdogIntervalMs()).toThrow(
      new RangeError('Expected a positive integer of microseconds for WATCHDOG_USEC but received the string "soon"'),
    );
  });

  it('reports a socket nobody listens on, and refuses bad arguments', () => {
    const missing = path.join(dir, 'nobody.sock');
    expect(() => sdNotify('READY=1', missing)).toThrow(`sd_notify: sending to ${missing} failed: No such file or directory`);
    expect(() => sdNotify('', missing)).toThrow(new RangeError('Expected a non-empty string for state but received the string ""'));
    expect(() => sdNotify(1 as never)).toThrow(new TypeError('Expected a string for state but received the number 1'));
    expect(() => sdNotify('READY=1', 'relative.sock')).toThrow(
      new RangeError(
        'Expected an absolute path or an abstract name starting with @ (at most 107 bytes) for NOTIFY_SOCKET but received the string "relative.sock"',
      ),
    );
  });
});
