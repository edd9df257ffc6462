import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNotifier, formatNotify, type Notifier, type NotifyFields } from '../../src/ops/notifier.js';
import { Heartbeat, WatchdogFeeder, watchdogIntervalMs } from '../../src/appliance/watchdog.js';
import { NotifyReceiver, until } from '../support/daemon.js';

class Recorder implements Notifier {
  readonly kind = 'none' as const;
  sent: NotifyFields[] = [];
  async notify(f: NotifyFields): Promise<void> {
    this.sent.push(f);
  }
  async flush(): Promise<void> {}
}

describe('watchdog', () => {
  it('is fed only when the pipeline made progress since the last check', async () => {
    const n = new Recorder();
    const hb = new Heartbeat();
    let stalls = 0;
    const w = new WatchdogFeeder(n, hb, 1000, undefined, () => stalls++);
    w.start();
    w.stop(); // checks are driven by hand below; no timer involved
    expect(await w.check()).toBe(false);
    hb.beat('frame');
    expect(await w.check()).toBe(true);
    expect(await w.check()).toBe(false);
    expect(await w.check()).toBe(false);
    hb.beat('move');
    hb.beat('frame');
    expect(await w.check()).toBe(true);
    expect(n.sent).toEqual([{ WATCHDOG: 1 }, { WATCHDOG: 1 }]);
    expect({ fed: w.fed, stalls: w.stalls, counted: stalls }).toEqual({ fed: 2, stalls: 3, counted: 3 });
  });

  it('takes its interval from WATCHDOG_USEC, only for this process', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' })).toBe(30_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) })).toBe(30_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' })).toBeNull();
    expect(watchdogIntervalMs({})).toBeNull();
  });
});

describe('sd_notify', () => {
  it('formats messages as newline-separated assignments', () => {
    expect(formatNotify({ READY: 1, STATUS: 'running\nfine' })).toBe('READY=1\nSTATUS=running fine');
  });

  it('drops messages when not started by systemd', async () => {
    const n = createNotifier({});
    expect(n.kind).toBe('none');
    await n.notify({ READY: 1 });
  });

  it('delivers messages in order through systemd-notify', async () => {
    const socket = join(mkdtempSync(join(tmpdir(), 'smartscope-notify-')), 'notify.sock');
    const rcv = new NotifyReceiver(socket);
    await rcv.started();
    try {
      const n = createNotifier({ NOTIFY_SOCKET: socket }, undefined, 'command');
      expect(n.kind).toBe('systemd-notify');
      void n.notify({ STATUS: 'loading models' });
      void n.notify({ READY: 1, STATUS: 'running' });
      void n.notify({ WATCHDOG: 1 });
      await n.flush();
      await until('three messages', () => rcv.states().length >= 3, 10_000, 20);
      expect(rcv.states()).toEqual(['STATUS=loading models', 'READY=1|STATUS=running', 'WATCHDOG=1']);
    } finally {
      rcv.stop();
    }
  });
});
