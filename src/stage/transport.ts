/**
 * How a driver reaches its controller: something that opens a byte stream. Real hardware goes through serialport; the
 * twin's firmware simulators hand out an in-process stream or sit behind a pty pair (src/sim/firmware/).
 *
 * The stream emits 'close' when the link goes away (serialport passes an error with `disconnected: true` when the
 * device disappears); the driver treats every 'close' it did not ask for as a disconnection.
 */
import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { stageError } from './stage.js';

export interface Transport {
  /** For messages: "/dev/ttyUSB0 at 115200 baud". */
  readonly description: string;
  open(signal?: AbortSignal): Promise<Duplex>;
}

export function serialTransport(path: string, baudRate: number): Transport {
  return {
    description: `${path} at ${baudRate} baud`,
    async open(signal) {
      if (signal?.aborted) throw stageError('opening the stage port canceled', { canceled: true });
      const port = new SerialPort({ path, baudRate, autoOpen: false });
      try {
        await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
      } catch (err) {
        const present = await listSerialPorts().catch(() => []);
        const hint = present.length > 0 ? `; serial ports present: ${present.join(', ')}` : '; no serial ports found';
        throw stageError(`cannot open stage port ${path}: ${(err as Error).message}${hint}`, { code: 'OPEN_FAILED' });
      }
      return port;
    },
  };
}

/** Closes a link the driver opened; resolves when it is closed (never rejects). */
export async function closeStream(s: Duplex): Promise<void> {
  const port = s as Partial<SerialPort>;
  if (typeof port.close === 'function' && port.isOpen) {
    await new Promise<void>((resolve) => port.close!(() => resolve()));
    return;
  }
  if (!s.destroyed) {
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.destroy();
    });
  }
}

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      await access(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/**
 * Serial ports on this machine, for error messages and diagnostics. serialport's list() runs `udevadm` on Linux and
 * crashes the process when it is missing (containers, minimal images), so without udevadm the device folders are read
 * instead.
 */
export async function listSerialPorts(): Promise<string[]> {
  if (process.platform === 'linux' && !(await onPath('udevadm'))) {
    const out: string[] = [];
    try {
      for (const n of await readdir('/dev/serial/by-id')) out.push(join('/dev/serial/by-id', n));
    } catch {
      // no udev-made links
    }
    try {
      for (const n of await readdir('/dev')) if (/^tty(USB|ACM)\d+$/.test(n)) out.push(join('/dev', n));
    } catch {
      // no /dev
    }
    return out.sort();
  }
  const ports = await SerialPort.list();
  return ports.map((p) => p.path).sort();
}
