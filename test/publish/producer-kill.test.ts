/**
 * kill -9 of the producing process in the middle of a stream: every event whose append had resolved ("durable")
 * reaches the subscriber after the process is started again; duplicates carry the same event id and content.
 * The broker is frozen (SIGSTOP) for the second half of the stream, so the kill hits a process with events on disk
 * that the broker never acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { device, subscriber, tempDir, until } from './fixtures.js';

const child = join(import.meta.dirname, 'producer-child.ts');

function run(mode: 'produce' | 'drain', url: string, dir: string): { proc: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, mode, url, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      if (code !== 0 && code !== null) process.stderr.write(err);
      resolve(code);
    }),
  );
  return { proc, lines, exited };
}

let broker: Mosquitto;
beforeAll(async () => {
  broker = await startMosquitto();
});
afterAll(async () => {
  await broker.close();
});

describe('kill -9 of the producer', () => {
  it('loses no durable event; a restarted process delivers the rest, duplicates keep their id', async () => {
    const dir = tempDir('kill9-');
    const base = `smartscope/${device.site}/${device.line}/${device.id}`;
    const sub = await subscriber(broker.url, [`${base}/events/defect`, `${base}/thumbnails/+`]);
    try {
      const first = run('produce', broker.url, dir);
      const durableCount = (): number => first.lines.filter((l) => l.startsWith('durable')).length;
      await until(() => durableCount() >= 40, 60_000, '40 durable events');
      broker.pause();
      const atPause = durableCount();
      await until(() => durableCount() >= atPause + 40, 60_000, '40 more durable events');
      first.proc.kill('SIGKILL');
      expect(await first.exited).toBe(null);
      broker.resume();
      const durable = first.lines
        .filter((l) => l.startsWith('durable'))
        .map((l) => {
          const [, n, id] = l.split(' ');
          return { n: Number(n), id: id! };
        });

      const second = run('drain', broker.url, dir);
      expect(await second.exited).toBe(0);
      expect(second.lines.join('\n')).toMatch(/^drained true pending 0$/m);

      await until(() => durable.every((d) => sub.json('/events/defect').some((e) => e.eventId === d.id)), 20_000, 'every durable event');
      const received = sub.json('/events/defect');
      // Zero lost: every event reported durable arrived.
      for (const d of durable) expect(received.some((e) => e.eventId === d.id)).toBe(true);
      // Nothing unknown arrived: every event is one of the stream (at most the one being appended at the kill).
      const ns = received.map((e) => Number((e.defectId as string).slice(1)));
      expect(Math.max(...ns)).toBeLessThanOrEqual(durable[durable.length - 1]!.n + 1);
      // Duplicates only with the same id and the same content; first deliveries in order.
      const seen = new Map<string, Record<string, unknown>>();
      const order: number[] = [];
      for (const e of received) {
        const { historical: _h, ...rest } = e;
        const prev = seen.get(e.eventId as string);
        if (prev) expect(rest).toEqual(prev);
        else {
          seen.set(e.eventId as string, rest);
          order.push(Number((e.defectId as string).slice(1)));
        }
      }
      expect(order).toEqual([...order].sort((a, b) => a - b));
      expect(new Set(received.map((e) => e.defectId)).size).toBe(seen.size);
      // What the restarted process delivered from the outbox is flagged historical.
      expect(received.filter((e) => e.historical === true).length).toBeGreaterThanOrEqual(30);
      // Images of every delivered event arrived before it.
      for (const e of received.filter((x) => x.thumbnail)) {
        const t = (e.thumbnail as { topic: string; dropped?: boolean }).topic;
        expect((e.thumbnail as { dropped?: boolean }).dropped).toBeUndefined();
        const img = sub.messages.findIndex((m) => m.topic === t);
        expect(img).toBeGreaterThanOrEqual(0);
        expect(img).toBeLessThan(sub.messages.findIndex((m) => m.topic.endsWith('/events/defect') && m.payload.includes(e.eventId as string)));
      }
    } finally {
      await sub.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
