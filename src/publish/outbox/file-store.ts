/**
 * The durable outbox on disk:
 *
 *     <dir>/meta.json            acknowledged seq and the drop/loss totals (tmp + fsync + rename)
 *     <dir>/seg-<firstSeq>.log   append-only segments of records (record-codec.ts), fsync'd per commit
 *     <dir>/blobs/<topic, / → ~> one file per blob, fsync'd and renamed into place before its records are written
 *
 * Appends that arrive while a commit is running are committed together (group commit: one fdatasync for the batch).
 * Acknowledgements update memory at once and reach meta.json within `metaDelayMs`; after a kill -9, records
 * acknowledged in that window are replayed (at-least-once, the same event ids). Fully acknowledged segments and
 * blobs no pending record needs are deleted only after meta.json says so.
 */
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BlobDir, fsyncDir } from './blob-dir.js';
import { planCap } from './cap-plan.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import { Segment, SEGMENT_RE, segmentName } from './segment.js';
import {
  checkAppend,
  closedError,
  tooLargeError,
  type AppendResult,
  type NewBlob,
  type NewRecord,
  type OutboxStats,
  type OutboxStore,
  type RecoveryReport,
  type StoredBlob,
  type StoredRecord,
} from './store.js';

export interface FileStoreOptions {
  dir: string;
  capBytes: number;
  /** A segment is closed at this size (bounded to a fraction of the cap so the cap policy can drop whole segments). */
  segmentBytes?: number;
  /** Longest time an acknowledgement waits before it is written to meta.json. */
  metaDelayMs?: number;
  /** Records kept in memory after their append, so a drain that keeps up never reads the disk. */
  cacheRecords?: number;
}

interface Meta {
  version: 1;
  ackedSeq: number;
  droppedBlobs: number;
  lostRecords: number;
}

interface PendingAppend {
  records: NewRecord[];
  blobs: NewBlob[];
  resolve: (r: AppendResult) => void;
  reject: (e: Error) => void;
}

export class FileStore implements OutboxStore {
  private readonly dir: string;
  private readonly capBytes: number;
  private readonly segmentBytes: number;
  private readonly metaDelayMs: number;
  private readonly cacheRecords: number;
  private segments: Segment[] = [];
  private active: Segment | null = null;
  private readonly blobs: BlobDir;
  /** Pending records that need blobs, and how many pending records need each blob. */
  private readonly blobRefs = new Map<number, string[]>();
  private readonly blobUse = new Map<string, number>();
  private readonly cache = new Map<number, StoredRecord>();
  private meta: Meta = { version: 1, ackedSeq: 0, droppedBlobs: 0, lostRecords: 0 };
  private lastSeq = 0;
  private queue: PendingAppend[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private flushScheduled = false;
  private metaTimer: NodeJS.Timeout | null = null;
  private metaDirty = false;
  private closed = false;
  private opened = false;
  private corruptCounted = 0;

  constructor(opts: FileStoreOptions) {
    this.dir = opts.dir;
    this.blobs = new BlobDir(join(opts.dir, 'blobs'));
    this.capBytes = opts.capBytes;
    this.segmentBytes = Math.max(4096, Math.min(opts.segmentBytes ?? 4 << 20, Math.floor(opts.capBytes / 8)));
    this.metaDelayMs = opts.metaDelayMs ?? 200;
    this.cacheRecords = opts.cacheRecords ?? 4096;
  }

  async open(): Promise<RecoveryReport> {
    if (this.opened) throw new Error('outbox store is already open');
    this.opened = true;
    await mkdir(this.dir, { recursive: true });
    this.meta = await this.readMeta();
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_RE.test(n)).sort();
    let discardedBytes = 0;
    let corruptRecords = 0;
    for (let i = 0; i < names.length; i++) {
      const rec = await Segment.recover(this.dir, names[i]!, i === names.length - 1);
      discardedBytes += rec.discardedBytes;
      corruptRecords += rec.corruptRecords;
      const seg = rec.segment;
      if (seg.seqs.length === 0 || seg.lastSeq <= this.meta.ackedSeq) {
        await unlink(seg.path);
        continue;
      }
      this.segments.push(seg);
      this.lastSeq = Math.max(this.lastSeq, seg.lastSeq);
      for (const r of rec.blobRefs) if (r.seq > this.meta.ackedSeq) this.addRefs(r.seq, r.blobs);
    }
    this.lastSeq = Math.max(this.lastSeq, this.meta.ackedSeq);
    if (corruptRecords > 0) {
      this.meta.lostRecords += corruptRecords;
      await this.writeMeta();
    }
    const orphanBlobs = await this.blobs.recover((topic) => this.blobUse.has(topic));
    return { pendingRecords: this.pendingRecords(), discardedBytes, corruptRecords, orphanBlobs };
  }

  append(records: NewRecord[], blobs: NewBlob[] = []): Promise<AppendResult> {
    if (this.closed) return Promise.reject(closedError());
    checkAppend(records, blobs);
    return new Promise((resolve, reject) => {
      this.queue.push({ records, blobs, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.serial(() => this.flush());
      }
    });
  }

  async read(afterSeq: number, max: number): Promise<StoredRecord[]> {
    if (this.closed) throw closedError();
    const out: StoredRecord[] = [];
    let s = Math.max(afterSeq, this.meta.ackedSeq) + 1;
    for (; out.length < max && s <= this.lastSeq; s++) {
      const r = this.cache.get(s);
      if (!r) break;
      out.push(r);
    }
    if (out.length >= max || s > this.lastSeq) return out;
    // Not in memory (written by an earlier run, or the drain fell behind): read the segments.
    for (const seg of this.segments) {
      if (out.length >= max) break;
      if (seg.lastSeq < s) continue;
      const { records, corrupt } = await seg.read(s - 1, max - out.length, decodeRecord);
      out.push(...records);
      // A record that rotted on disk since it was written is skipped (and counted once): the drain must not stall.
      for (const c of corrupt) {
        if (c > this.corruptCounted) {
          this.meta.lostRecords++;
          this.corruptCounted = c;
        }
      }
      const lastRead = Math.max(records.length > 0 ? records[records.length - 1]!.seq : 0, corrupt.length > 0 ? corrupt[corrupt.length - 1]! : 0);
      if (lastRead > 0) s = lastRead + 1;
    }
    return out;
  }

  async getBlob(topic: string): Promise<StoredBlob | undefined> {
    if (this.closed) throw closedError();
    const bytes = await this.blobs.read(topic);
    return bytes ? { topic, bytes } : undefined;
  }

  async ack(upTo: number): Promise<void> {
    if (this.closed) throw closedError();
    const to = Math.min(upTo, this.lastSeq);
    if (to <= this.meta.ackedSeq) return;
    for (let s = this.meta.ackedSeq + 1; s <= to; s++) this.cache.delete(s);
    this.meta.ackedSeq = to;
    this.metaDirty = true;
    if (!this.metaTimer) {
      this.metaTimer = setTimeout(() => {
        this.metaTimer = null;
        this.serial(() => this.compact()).catch(() => undefined);
      }, this.metaDelayMs);
      this.metaTimer.unref();
    }
  }

  stats(): OutboxStats {
    let pendingBytes = 0;
    for (const seg of this.segments) {
      const i = seg.indexAfter(this.meta.ackedSeq);
      if (i < seg.seqs.length) pendingBytes += seg.bytes - seg.offsets[i]!;
    }
    for (const topic of this.blobUse.keys()) pendingBytes += this.blobs.bytesOf(topic);
    return {
      pendingRecords: this.pendingRecords(),
      pendingBytes,
      diskBytes: this.usedBytes(),
      capBytes: this.capBytes,
      ackedSeq: this.meta.ackedSeq,
      lastSeq: this.lastSeq,
      droppedBlobs: this.meta.droppedBlobs,
      lostRecords: this.meta.lostRecords,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.metaTimer) clearTimeout(this.metaTimer);
    this.metaTimer = null;
    await this.serial(async () => {
      if (this.opened) await this.compact();
      await this.active?.fh?.close();
      if (this.active) this.active.fh = null;
    });
  }

  /** Runs store mutations one after another. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    try {
      const results = await this.commit(batch);
      batch.forEach((op, i) => op.resolve(results[i]!));
    } catch (err) {
      for (const op of batch) op.reject(err as Error);
    }
  }

  private async commit(batch: PendingAppend[]): Promise<AppendResult[]> {
    const fresh = new Map<string, NewBlob>();
    for (const op of batch) for (const b of op.blobs) if (!this.blobs.has(b.topic) && !fresh.has(b.topic)) fresh.set(b.topic, b);
    const seqs = batch.map((op) => op.records.map(() => 0));
    let next = this.lastSeq;
    const lines: Buffer[] = [];
    const lineSeqs: number[] = [];
    const needed = new Set<string>();
    batch.forEach((op, i) =>
      op.records.forEach((r, j) => {
        const rec: StoredRecord = { seq: ++next, topic: r.topic, payload: r.payload, blobs: [...(r.blobs ?? [])] };
        seqs[i]![j] = rec.seq;
        lines.push(encodeRecord(rec));
        lineSeqs.push(rec.seq);
        for (const id of rec.blobs) needed.add(id);
      }),
    );
    let incoming = lines.reduce((n, l) => n + l.length, 0);
    for (const b of fresh.values()) incoming += b.bytes.length;
    if (incoming > this.capBytes) throw tooLargeError(incoming, this.capBytes);

    const plan = planCap(
      {
        capBytes: this.capBytes,
        usedBytes: this.usedBytes(),
        blobs: this.blobs.list().filter((b) => !needed.has(b.id)),
        recordUnits: this.segments.map((s) => ({
          bytes: s.bytes,
          records: s.pendingCount(this.meta.ackedSeq),
          firstSeq: s.firstSeq,
          lastSeq: s.lastSeq,
          blobIds: [],
        })),
      },
      incoming,
    );
    for (const topic of plan.dropBlobs) await this.blobs.remove(topic);
    this.meta.droppedBlobs += plan.dropBlobs.length;
    if (plan.dropUnits > 0) {
      const gone = this.segments.splice(0, plan.dropUnits);
      const lastGone = gone[gone.length - 1]!.lastSeq;
      this.meta.lostRecords += plan.lostRecords;
      this.releaseUpTo(Math.max(this.meta.ackedSeq, lastGone));
      this.meta.ackedSeq = Math.max(this.meta.ackedSeq, lastGone);
      await this.writeMeta();
      for (const seg of gone) {
        if (seg === this.active) {
          await seg.fh?.close();
          this.active = null;
        }
        await rm(seg.path, { force: true });
      }
      await this.removeUnusedBlobs();
    }
    if (plan.dropBlobs.length > 0 && plan.dropUnits === 0) this.metaDirty = true;

    // Blobs first: a record on disk must never name a blob that is not.
    await this.blobs.writeAll(fresh.values());

    if (lines.length > 0) {
      let created = false;
      if (!this.active || this.active.bytes >= this.segmentBytes) {
        await this.active?.fh?.close();
        if (this.active) this.active.fh = null;
        this.active = new Segment(this.dir, segmentName(lineSeqs[0]!));
        this.active.fh = await open(this.active.path, 'a');
        this.segments.push(this.active);
        created = true;
      }
      const buf = Buffer.concat(lines);
      await this.active.fh!.writeFile(buf);
      await this.active.fh!.datasync();
      if (created) await fsyncDir(this.dir);
      this.active.indexAppended(
        lineSeqs,
        lines.map((l) => l.length),
      );
      this.lastSeq = next;
      batch.forEach((op, i) =>
        op.records.forEach((r, j) => {
          const seq = seqs[i]![j]!;
          if (r.blobs && r.blobs.length > 0) this.addRefs(seq, r.blobs);
          this.cache.set(seq, { seq, topic: r.topic, payload: r.payload, blobs: [...(r.blobs ?? [])] });
        }),
      );
      while (this.cache.size > this.cacheRecords) this.cache.delete(this.cache.keys().next().value!);
    }
    return batch.map((_, i) => {
      const res: AppendResult = { seqs: seqs[i]!, droppedBlobs: i === 0 ? plan.dropBlobs.length : 0, lostRecords: i === 0 ? plan.lostRecords : 0 };
      if (i === 0 && plan.lostSeqs) res.lostSeqs = plan.lostSeqs;
      return res;
    });
  }

  /** Persists the acknowledgement, then deletes what it made unnecessary. */
  private async compact(): Promise<void> {
    if (this.metaDirty) await this.writeMeta();
    this.releaseUpTo(this.meta.ackedSeq);
    const keep: Segment[] = [];
    for (const seg of this.segments) {
      if (seg.lastSeq <= this.meta.ackedSeq && (seg !== this.active || seg.bytes >= this.segmentBytes)) {
        if (seg === this.active) {
          await seg.fh?.close();
          this.active = null;
        }
        await rm(seg.path, { force: true });
      } else keep.push(seg);
    }
    this.segments = keep;
    await this.removeUnusedBlobs();
  }

  private addRefs(seq: number, ids: string[]): void {
    this.blobRefs.set(seq, ids);
    for (const id of ids) this.blobUse.set(id, (this.blobUse.get(id) ?? 0) + 1);
  }

  /** Forgets blob references of records with seq ≤ upTo. */
  private releaseUpTo(upTo: number): void {
    // Insertion order is seq order (recovery, then appends), so the walk stops at the first pending record.
    for (const [seq, ids] of this.blobRefs) {
      if (seq > upTo) break;
      this.blobRefs.delete(seq);
      for (const id of ids) {
        const n = (this.blobUse.get(id) ?? 1) - 1;
        if (n <= 0) this.blobUse.delete(id);
        else this.blobUse.set(id, n);
      }
    }
  }

  private async removeUnusedBlobs(): Promise<void> {
    for (const topic of this.blobs.topics()) if (!this.blobUse.has(topic)) await this.blobs.remove(topic);
  }

  private pendingRecords(): number {
    let n = 0;
    for (const seg of this.segments) n += seg.pendingCount(this.meta.ackedSeq);
    return n;
  }

  private usedBytes(): number {
    let n = 0;
    for (const seg of this.segments) n += seg.bytes;
    return n + this.blobs.totalBytes();
  }

  private async readMeta(): Promise<Meta> {
    try {
      const m = JSON.parse(await readFile(join(this.dir, 'meta.json'), 'utf8')) as Partial<Meta>;
      const int = (v: unknown): number => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0);
      return { version: 1, ackedSeq: int(m.ackedSeq), droppedBlobs: int(m.droppedBlobs), lostRecords: int(m.lostRecords) };
    } catch {
      // Missing (new outbox) or unreadable: replaying every segment from the start can only duplicate, never lose.
      return { version: 1, ackedSeq: 0, droppedBlobs: 0, lostRecords: 0 };
    }
  }

  private async writeMeta(): Promise<void> {
    this.metaDirty = false;
    const tmp = join(this.dir, 'meta.json.tmp');
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(this.meta));
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, 'meta.json'));
    await fsyncDir(this.dir);
  }
}
