/**
 * Telling systemd about the daemon's state (sd_notify(3)): READY=1, STATUS=…, WATCHDOG=1, STOPPING=1.
 *
 * Node's dgram module cannot send on AF_UNIX datagram sockets, so messages go through the native addon's sdNotify()
 * when it is built, and otherwise through the `systemd-notify` command. The command is a separate process that exits
 * right after sending; systemd may then fail to attribute the message to the unit (the sender is gone before the
 * message is processed, see systemd issue #2739). systemd-notify (v246+) therefore follows each message with a
 * BARRIER=1 and waits until systemd has processed it, which keeps the sender alive long enough; the unit also sets
 * NotifyAccess=all because the sender is a child process. Messages are queued in order and never block the caller.
 * Outside systemd (no $NOTIFY_SOCKET) every message is dropped.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Logger } from '../kernel/logger.js';
import { packageRoot } from '../kernel/paths.js';

export type NotifyFields = Record<string, string | number>;

export interface Notifier {
  /** Which transport is used: "addon", "systemd-notify" or "none". */
  readonly kind: 'addon' | 'systemd-notify' | 'none';
  /** Queues a message; the returned promise settles once it was handed to systemd (or failed, which is logged). */
  notify(fields: NotifyFields): Promise<void>;
  /** Waits for every queued message. */
  flush(): Promise<void>;
}

export function formatNotify(fields: NotifyFields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`)
    .join('\n');
}

type SdNotify = (state: string, socketPath?: string) => boolean;

function loadAddonNotify(): SdNotify | null {
  const file = join(packageRoot(), 'native', 'build', 'Release', 'smartscope.node');
  if (!existsSync(file)) return null;
  try {
    const addon = createRequire(import.meta.url)(file) as { sdNotify?: SdNotify };
    return typeof addon.sdNotify === 'function' ? addon.sdNotify : null;
  } catch {
    return null;
  }
}

class AddonNotifier implements Notifier {
  readonly kind = 'addon' as const;
  constructor(
    private readonly send: SdNotify,
    private readonly socket: string,
  ) {}
  async notify(fields: NotifyFields): Promise<void> {
    this.send(formatNotify(fields), this.socket);
  }
  async flush(): Promise<void> {}
}

class CommandNotifier implements Notifier {
  readonly kind = 'systemd-notify' as const;
  private chain: Promise<void> = Promise.resolve();
  constructor(
    private readonly socket: string,
    private readonly log?: Logger,
  ) {}
  notify(fields: NotifyFields): Promise<void> {
    // Sent in order: READY must never overtake STATUS, nor STOPPING a WATCHDOG.
    const run = (): Promise<void> =>
      new Promise((resolve) => {
        const args = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`);
        const p = spawn('systemd-notify', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: this.socket } });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', (e) => {
          this.log?.warn({ err: e.message }, 'systemd-notify could not run');
          resolve();
        });
        p.on('close', (code) => {
          if (code !== 0) this.log?.warn({ code, err: err.trim() }, 'systemd-notify failed');
          resolve();
        });
      });
    this.chain = this.chain.then(run);
    return this.chain;
  }
  flush(): Promise<void> {
    return this.chain;
  }
}

class NullNotifier implements Notifier {
  readonly kind = 'none' as const;
  async notify(): Promise<void> {}
  async flush(): Promise<void> {}
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env, log?: Logger, prefer: 'auto' | 'command' = 'auto'): Notifier {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return new NullNotifier();
  const addon = prefer === 'auto' ? loadAddonNotify() : null;
  return addon ? new AddonNotifier(addon, socket) : new CommandNotifier(socket, log);
}
