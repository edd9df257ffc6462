/**
 * One append-only segment file of the outbox and its in-memory index (seq → byte range), rebuilt on recovery.
 */
import { open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { scanLines } from './record-codec.js';
import type { StoredRecord } from './store.js';

export const SEGMENT_RE = /^seg-(\d{16})\.log$/;

export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

export interface SegmentRecovery {
  segment: Segment;
  blobRefs: Array<{ seq: number; blobs: string[] }>;
  discardedBytes: number;
  corruptRecords: number;
}

export class Segment {
  /** Parallel arrays: seq, byte offset and length of each record, in file order. */
  readonly seqs: number[] = [];
  readonly offsets: number[] = [];
  readonly lengths: number[] = [];
  bytes = 0;
  /** Open for appending while this is the active segment. */
  fh: FileHandle | null = null;

  constructor(
    readonly dir: string,
    readonly name: string,
  ) {}

  get path(): string {
    return join(this.dir, this.name);
  }

  get firstSeq(): number {
    return this.seqs.length > 0 ? this.seqs[0]! : Number.POSITIVE_INFINITY;
  }

  get lastSeq(): number {
    return this.seqs.length > 0 ? this.seqs[this.seqs.length - 1]! : 0;
  }

  /** Records in this segment with seq > ackedSeq. */
  pendingCount(ackedSeq: number): number {
    return this.seqs.length - this.indexAfter(ackedSeq);
  }

  /** Index of the first record with seq > seq (binary search). */
  indexAfter(seq: number): number {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.seqs[mid]! <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Appends encoded records (already fsync'd by the caller's batch) to the index. */
  indexAppended(seqs: number[], lengths: number[]): void {
    for (let i = 0; i < seqs.length; i++) {
      this.seqs.push(seqs[i]!);
      this.offsets.push(this.bytes);
      this.lengths.push(lengths[i]!);
      this.bytes += lengths[i]!;
    }
  }

  /** Reads up to `max` records with seq > afterSeq. */
  async read(afterSeq: number, max: number, decode: (line: Buffer) => StoredRecord | undefined): Promise<{ records: StoredRecord[]; corrupt: number[] }> {
    const first = this.indexAfter(afterSeq);
    const last = Math.min(this.seqs.length, first + max);
    if (first >= last) return { records: [], corrupt: [] };
    const start = this.offsets[first]!;
    const end = this.offsets[last - 1]! + this.lengths[last - 1]!;
    const buf = Buffer.allocUnsafe(end - start);
    const fh = await open(this.path, 'r');
    try {
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } finally {
      await fh.close();
    }
    const records: StoredRecord[] = [];
    const corrupt: number[] = [];
    for (let i = first; i < last; i++) {
      const off = this.offsets[i]! - start;
      const rec = decode(buf.subarray(off, off + this.lengths[i]! - 1));
      if (rec && rec.seq === this.seqs[i]) records.push(rec);
      else corrupt.push(this.seqs[i]!);
    }
    return { records, corrupt };
  }

  /**
   * Rebuilds the index of a segment file. Lines with a bad checksum followed by good ones are counted as corrupt and
   * skipped; a bad or incomplete tail (an append that never resolved) is cut off the file when `isLast`.
   */
  static async recover(dir: string, name: string, isLast: boolean): Promise<SegmentRecovery> {
    const seg = new Segment(dir, name);
    const buf = await readFile(seg.path);
    const blobRefs: Array<{ seq: number; blobs: string[] }> = [];
    let goodEnd = 0;
    let pendingBad = 0;
    let corruptRecords = 0;
    for (const line of scanLines(buf)) {
      const r = line.record;
      if (!line.complete || !r || r.seq <= seg.lastSeq) {
        pendingBad++;
        continue;
      }
      corruptRecords += pendingBad;
      pendingBad = 0;
      seg.seqs.push(r.seq);
      seg.offsets.push(line.offset);
      seg.lengths.push(line.length);
      if (r.blobs.length > 0) blobRefs.push({ seq: r.seq, blobs: r.blobs });
      goodEnd = line.offset + line.length;
    }
    let discardedBytes = 0;
    if (goodEnd < buf.length) {
      if (isLast) {
        discardedBytes = buf.length - goodEnd;
        await truncate(seg.path, goodEnd);
        seg.bytes = goodEnd;
      } else {
        corruptRecords += pendingBad;
        seg.bytes = buf.length;
      }
    } else {
      seg.bytes = buf.length;
    }
    return { segment: seg, blobRefs, discardedBytes, corruptRecords };
  }
}
