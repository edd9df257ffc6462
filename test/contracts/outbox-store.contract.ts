/**
 * The contract every outbox Store must pass (src/publish/outbox/store.ts states it). Run it with
 * `describeOutboxStore(name, harness)`; durable stores also get the restart and torn-write cases.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewBlob, OutboxStore } from '../../src/publish/outbox/store.js';

export interface StoreHarness {
  /** A new, empty store (each test gets its own). */
  create(capBytes?: number): OutboxStore;
  /** Durable stores: a second instance over the same storage, as a restarted process would open it. */
  reopen?(capBytes?: number): OutboxStore;
  /** Durable stores: appends bytes to the newest segment, as a write torn by a crash would leave them. */
  tearTail?(bytes: Buffer): Promise<void>;
}

export function blob(text: string, kind = 'thumbnails'): NewBlob {
  const bytes = Buffer.from(text.repeat(1 + Math.floor(2000 / text.length)));
  const id = createHash('sha256').update(bytes).digest('hex');
  return { topic: `${kind}/${id}`, bytes };
}

const ev = (n: number, pad = 0): string => JSON.stringify({ n, pad: 'x'.repeat(pad) });

export function describeOutboxStore(name: string, harness: StoreHarness): void {
  describe(`OutboxStore contract: ${name}`, () => {
    const open: OutboxStore[] = [];
    const make = async (cap?: number, fn: (c?: number) => OutboxStore = harness.create): Promise<OutboxStore> => {
      const s = fn(cap);
      open.push(s);
      await s.open();
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it('gives consecutive sequence numbers and reads back in order, bounded by max', async () => {
      const s = await make();
      const r1 = await s.append([
        { topic: 'events/a', payload: ev(1) },
        { topic: 'events/b', payload: ev(2) },
      ]);
      const r2 = await s.append([{ topic: 'events/a', payload: ev(3) }]);
      expect(r1.seqs).toEqual([1, 2]);
      expect(r2.seqs).toEqual([3]);
      expect((await s.read(0, 10)).map((r) => [r.seq, r.topic, JSON.parse(r.payload).n, r.blobs])).toEqual([
        [1, 'events/a', 1, []],
        [2, 'events/b', 2, []],
        [3, 'events/a', 3, []],
      ]);
      expect((await s.read(0, 2)).map((r) => r.seq)).toEqual([1, 2]);
      expect((await s.read(2, 10)).map((r) => r.seq)).toEqual([3]);
      expect(await s.read(3, 10)).toEqual([]);
      expect(s.stats()).toMatchObject({ pendingRecords: 3, lastSeq: 3, ackedSeq: 0, lostRecords: 0, droppedBlobs: 0 });
    });

    it('keeps call order for appends that run at the same time', async () => {
      const s = await make();
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.append([{ topic: 'events/x', payload: ev(i) }])));
      expect(results.map((r) => r.seqs[0])).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const back = await s.read(0, 1000);
      expect(back.map((r) => JSON.parse(r.payload).n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    });

    it('never returns acknowledged records again, and ignores stale or excessive acknowledgements', async () => {
      const s = await make();
      for (let i = 0; i < 5; i++) await s.append([{ topic: 'events/x', payload: ev(i) }]);
      await s.ack(3);
      expect((await s.read(0, 10)).map((r) => r.seq)).toEqual([4, 5]);
      await s.ack(2);
      expect((await s.read(0, 10)).map((r) => r.seq)).toEqual([4, 5]);
      await s.ack(99);
      expect(await s.read(0, 10)).toEqual([]);
      expect(s.stats()).toMatchObject({ pendingRecords: 0, ackedSeq: 5, lastSeq: 5 });
      expect((await s.append([{ topic: 'events/x', payload: ev(6) }])).seqs).toEqual([6]);
    });

    it('stores blobs by content address, once, for as long as a pending record needs them', async () => {
      const s = await make();
      const b = blob('thumb-1');
      await s.append([{ topic: 'events/defect', payload: ev(1), blobs: [b.topic] }], [b]);
      const before = s.stats().diskBytes;
      await s.append([{ topic: 'events/defect', payload: ev(2), blobs: [b.topic] }], [b]);
      expect(s.stats().diskBytes - before).toBeLessThan(b.bytes.length);
      const got = await s.getBlob(b.topic);
      expect(got?.topic).toBe(b.topic);
      expect(got?.bytes.equals(b.bytes)).toBe(true);
      expect((await s.read(0, 10)).map((r) => r.blobs)).toEqual([[b.topic], [b.topic]]);
      await s.ack(1);
      expect((await s.getBlob(b.topic))?.bytes.equals(b.bytes)).toBe(true);
      expect(await s.getBlob(`thumbnails/${'0'.repeat(64)}`)).toBeUndefined();
    });

    it('under the disk cap drops blobs first, then the oldest records, and counts both', async () => {
      const cap = 64 * 1024;
      const s = await make(cap);
      const blobs: NewBlob[] = [];
      let n = 0;
      // Records with blobs until the first blob is dropped.
      while (s.stats().droppedBlobs === 0) {
        const b = blob(`image-${n}-`);
        blobs.push(b);
        const r = await s.append([{ topic: 'events/defect', payload: ev(n++, 200), blobs: [b.topic] }], [b]);
        expect(r.lostRecords).toBe(0);
        expect(n).toBeLessThan(1000);
      }
      expect(s.stats().lostRecords).toBe(0);
      expect(await s.getBlob(blobs[0]!.topic)).toBeUndefined();
      expect((await s.getBlob(blobs[blobs.length - 1]!.topic))?.bytes.length).toBe(blobs[blobs.length - 1]!.bytes.length);
      // Records only: once no blob is left to drop, the oldest records go, and the append says which.
      let lost = 0;
      let lostSeqs: { first: number; last: number } | undefined;
      while (lost === 0) {
        const r = await s.append([{ topic: 'events/defect', payload: ev(n++, 1000) }]);
        lost = r.lostRecords;
        lostSeqs = r.lostSeqs;
        expect(n).toBeLessThan(5000);
      }
      expect(s.stats().droppedBlobs).toBe(blobs.length);
      expect(lostSeqs?.first).toBe(1);
      expect(lostSeqs!.last - lostSeqs!.first + 1).toBe(lost);
      expect(s.stats().lostRecords).toBe(lost);
      expect(s.stats().diskBytes).toBeLessThanOrEqual(cap);
      const pending = await s.read(0, 100_000);
      expect(pending[0]!.seq).toBe(lostSeqs!.last + 1);
      expect(pending[pending.length - 1]!.seq).toBe(n);
      expect(pending.map((r) => r.seq)).toEqual(Array.from({ length: pending.length }, (_, i) => lostSeqs!.last + 1 + i));
    });

    it('refuses an append larger than the whole cap, and bad topics, with clear errors', async () => {
      const s = await make(8192);
      await expect(s.append([{ topic: 'events/x', payload: ev(1, 9000) }])).rejects.toMatchObject({
        tooLarge: true,
        message: expect.stringMatching(/^outbox append of \d+ bytes exceeds the outbox cap of 8192 bytes$/),
      });
      await expect(async () => s.append([{ topic: 'events/has space', payload: '{}' }])).rejects.toThrow(
        'Expected a relative topic without spaces or wildcards for record topic but received "events/has space"',
      );
      await expect(async () => s.append([{ topic: 'events/x', payload: '{}', blobs: ['thumbnails/nope'] }])).rejects.toThrow(
        'Expected a relative topic ending in a lowercase hex SHA-256 for blob topic but received "thumbnails/nope"',
      );
      expect(s.stats().lastSeq).toBe(0);
    });

    it('rejects calls after close with closed: true', async () => {
      const s = harness.create();
      await s.open();
      await s.close();
      await expect(s.append([{ topic: 'events/x', payload: '{}' }])).rejects.toMatchObject({ closed: true, message: 'outbox store is closed' });
    });

    if (harness.reopen) {
      const reopen = harness.reopen;
      it('recovers pending records, blobs, acknowledgements and counters after a restart', async () => {
        const s = await make();
        const b = blob('persisted');
        for (let i = 1; i <= 10; i++) await s.append([{ topic: 'events/defect', payload: ev(i), blobs: i === 7 ? [b.topic] : [] }], i === 7 ? [b] : []);
        await s.ack(4);
        await s.close();
        const t = await make(undefined, reopen);
        const back = await t.read(0, 100);
        expect(back.map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10]);
        expect(back[2]!.blobs).toEqual([b.topic]);
        expect((await t.getBlob(b.topic))?.bytes.equals(b.bytes)).toBe(true);
        expect((await t.append([{ topic: 'events/defect', payload: ev(11) }])).seqs).toEqual([11]);
      });

      it('discards a torn last write and keeps everything that was committed', async () => {
        const s = await make();
        for (let i = 1; i <= 3; i++) await s.append([{ topic: 'events/x', payload: ev(i) }]);
        await s.close();
        await harness.tearTail!(Buffer.from('1234abcd 4 events/x - {"n":4,"pa'));
        const t = await make(undefined, reopen);
        expect((await t.read(0, 10)).map((r) => JSON.parse(r.payload).n)).toEqual([1, 2, 3]);
        expect((await t.append([{ topic: 'events/x', payload: ev(4) }])).seqs).toEqual([4]);
        expect((await t.read(3, 10)).map((r) => JSON.parse(r.payload).n)).toEqual([4]);
      });

      it('keeps the drop and loss totals across a restart', async () => {
        const s = await make(32 * 1024);
        let n = 0;
        while (s.stats().lostRecords === 0) await s.append([{ topic: 'events/x', payload: ev(n++, 1000) }]);
        const { lostRecords, lastSeq } = s.stats();
        await s.close();
        const t = await make(32 * 1024, reopen);
        expect(t.stats()).toMatchObject({ lostRecords, lastSeq });
      });
    }
  });
}
