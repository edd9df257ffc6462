/**
 * An outbox store in memory: same ordering and cap policy as the file store, no durability. For tests of the sink's
 * publishing logic and for runs where losing queued events on a restart is acceptable (never in production).
 */
import { planCap } from './cap-plan.js';
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

interface Held extends StoredRecord {
  bytes: number;
}

export class MemoryStore implements OutboxStore {
  private records: Held[] = [];
  private readonly blobs = new Map<string, StoredBlob>();
  private ackedSeq = 0;
  private lastSeq = 0;
  private droppedBlobs = 0;
  private lostRecords = 0;
  private closed = false;

  constructor(private readonly capBytes = 64 * 1024 * 1024) {}

  async open(): Promise<RecoveryReport> {
    return { pendingRecords: this.records.length, discardedBytes: 0, corruptRecords: 0, orphanBlobs: 0 };
  }

  async append(records: NewRecord[], blobs: NewBlob[] = []): Promise<AppendResult> {
    if (this.closed) throw closedError();
    checkAppend(records, blobs);
    const fresh = blobs.filter((b, i) => !this.blobs.has(b.topic) && blobs.findIndex((c) => c.topic === b.topic) === i);
    const incoming = fresh.reduce((n, b) => n + b.bytes.length, 0) + records.reduce((n, r) => n + recordBytes(r), 0);
    if (incoming > this.capBytes) throw tooLargeError(incoming, this.capBytes);
    const needed = new Set(records.flatMap((r) => r.blobs ?? []));
    const plan = planCap(
      {
        capBytes: this.capBytes,
        usedBytes: this.usedBytes(),
        blobs: [...this.blobs.values()].filter((b) => !needed.has(b.topic)).map((b) => ({ id: b.topic, bytes: b.bytes.length })),
        recordUnits: this.records.map((r) => ({ bytes: r.bytes, records: 1, firstSeq: r.seq, lastSeq: r.seq, blobIds: r.blobs })),
      },
      incoming,
    );
    for (const id of plan.dropBlobs) this.blobs.delete(id);
    this.droppedBlobs += plan.dropBlobs.length;
    if (plan.dropUnits > 0) {
      const lost = this.records.splice(0, plan.dropUnits);
      this.ackedSeq = Math.max(this.ackedSeq, lost[lost.length - 1]!.seq);
      this.lostRecords += plan.lostRecords;
      this.collectBlobs();
    }
    for (const b of fresh) this.blobs.set(b.topic, { topic: b.topic, bytes: Buffer.from(b.bytes) });
    const seqs: number[] = [];
    for (const r of records) {
      const seq = ++this.lastSeq;
      seqs.push(seq);
      this.records.push({ seq, topic: r.topic, payload: r.payload, blobs: [...(r.blobs ?? [])], bytes: recordBytes(r) });
    }
    const out: AppendResult = { seqs, droppedBlobs: plan.dropBlobs.length, lostRecords: plan.lostRecords };
    if (plan.lostSeqs) out.lostSeqs = plan.lostSeqs;
    return out;
  }

  async read(afterSeq: number, max: number): Promise<StoredRecord[]> {
    if (this.closed) throw closedError();
    const out: StoredRecord[] = [];
    for (const r of this.records) {
      if (out.length >= max) break;
      if (r.seq > afterSeq) out.push({ seq: r.seq, topic: r.topic, payload: r.payload, blobs: [...r.blobs] });
    }
    return out;
  }

  async getBlob(topic: string): Promise<StoredBlob | undefined> {
    if (this.closed) throw closedError();
    return this.blobs.get(topic);
  }

  async ack(upTo: number): Promise<void> {
    if (this.closed) throw closedError();
    if (upTo <= this.ackedSeq) return;
    this.ackedSeq = Math.min(upTo, this.lastSeq);
    let n = 0;
    while (n < this.records.length && this.records[n]!.seq <= this.ackedSeq) n++;
    if (n > 0) {
      this.records.splice(0, n);
      this.collectBlobs();
    }
  }

  stats(): OutboxStats {
    const used = this.usedBytes();
    return {
      pendingRecords: this.records.length,
      pendingBytes: used,
      diskBytes: used,
      capBytes: this.capBytes,
      ackedSeq: this.ackedSeq,
      lastSeq: this.lastSeq,
      droppedBlobs: this.droppedBlobs,
      lostRecords: this.lostRecords,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private usedBytes(): number {
    let n = 0;
    for (const r of this.records) n += r.bytes;
    for (const b of this.blobs.values()) n += b.bytes.length;
    return n;
  }

  /** Forgets blobs no pending record needs. */
  private collectBlobs(): void {
    const needed = new Set<string>();
    for (const r of this.records) for (const id of r.blobs) needed.add(id);
    for (const id of this.blobs.keys()) if (!needed.has(id)) this.blobs.delete(id);
  }
}

function recordBytes(r: NewRecord): number {
  return Buffer.byteLength(r.payload) + r.topic.length + 64 * ((r.blobs?.length ?? 0) + 1);
}
