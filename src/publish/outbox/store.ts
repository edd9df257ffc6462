/**
 * The outbox Store port: where events wait, in order, until the broker has acknowledged them.
 *
 * Contract (every store passes test/contracts/outbox-store.contract.ts):
 * - `append()` resolves only once its blobs and records are on stable storage (for a durable store: written and
 *   fsync'd, directory entries included). Records get consecutive sequence numbers in call order; appends that run at
 *   the same time may be committed together (one fsync) but keep their order.
 * - Blobs (thumbnails, report images) are content-addressed: each is known by the topic it is published on, which
 *   ends in the SHA-256 of its bytes (`thumbnails/<sha256>`); appending a blob that is already stored is a no-op.
 *   A record names the blobs it needs; a blob lives as long as a pending record needs it.
 * - `read(afterSeq, max)` returns pending records with seq > afterSeq in seq order, never more than `max`.
 * - `ack(upTo)` marks every record with seq ≤ upTo as delivered; they are never returned again, also after a
 *   restart, except that a durable store may replay records acknowledged in the last moments before a crash
 *   (at-least-once: a duplicate keeps its event id).
 * - Disk cap: when an append would exceed `capBytes`, the store first drops blobs of pending records (oldest first;
 *   `getBlob` then returns undefined and `droppedBlobs` counts them), then whole oldest pending records (counted in
 *   `lostRecords`, and reported in the append's result so the caller can raise an alarm). The records being appended
 *   are never the ones dropped. An append larger than the cap on its own is refused with `tooLarge: true`.
 * - A durable store survives kill -9 at any moment: `open()` recovers every record whose append had resolved, and
 *   discards a torn tail (an append that had not resolved).
 */

/** A record to append: a JSON payload for a topic relative to the device's topic base. */
export interface NewRecord {
  /** Relative topic, e.g. `events/defect`. */
  topic: string;
  /** The JSON text. */
  payload: string;
  /** Topics of the blobs that must be published before this record. */
  blobs?: string[];
}

export interface StoredRecord extends Required<NewRecord> {
  seq: number;
}

export interface NewBlob {
  /** Relative topic the bytes are published on, ending in their lowercase hex SHA-256: `thumbnails/<sha256>`. */
  topic: string;
  bytes: Buffer;
}

export type StoredBlob = NewBlob;

export interface AppendResult {
  /** Sequence numbers of the appended records, in order. */
  seqs: number[];
  /** Blobs of older pending records dropped to stay under the cap by this append. */
  droppedBlobs: number;
  /** Older pending records dropped (lost) to stay under the cap by this append. */
  lostRecords: number;
  /** Range of the lost records, when some were. */
  lostSeqs?: { first: number; last: number };
}

export interface OutboxStats {
  /** Records appended and not yet acknowledged. */
  pendingRecords: number;
  /** Bytes of pending records and their blobs. */
  pendingBytes: number;
  /** Bytes the store occupies on disk (or in memory). */
  diskBytes: number;
  capBytes: number;
  /** Highest sequence number acknowledged. */
  ackedSeq: number;
  /** Highest sequence number assigned. */
  lastSeq: number;
  /** Totals since the store was created (durable stores keep them across restarts). */
  droppedBlobs: number;
  lostRecords: number;
}

export interface RecoveryReport {
  pendingRecords: number;
  /** Bytes of a torn last append that were discarded. */
  discardedBytes: number;
  /** Records whose checksum did not match (skipped and counted as lost). */
  corruptRecords: number;
  /** Blob files no pending record needed (deleted). */
  orphanBlobs: number;
}

export interface OutboxStore {
  /** Opens (and for a durable store, recovers) the store. Must resolve before any other call. */
  open(): Promise<RecoveryReport>;
  append(records: NewRecord[], blobs?: NewBlob[]): Promise<AppendResult>;
  read(afterSeq: number, max: number): Promise<StoredRecord[]>;
  /** The blob, or undefined when it was dropped under the disk cap (or never stored). */
  getBlob(topic: string): Promise<StoredBlob | undefined>;
  ack(upTo: number): Promise<void>;
  stats(): OutboxStats;
  /** Waits for pending writes, then releases files. Further calls reject with an error whose `closed` is true. */
  close(): Promise<void>;
}

/** The error a store throws when an append alone exceeds its cap. */
export function tooLargeError(bytes: number, capBytes: number): Error & { tooLarge: true } {
  return Object.assign(new Error(`outbox append of ${bytes} bytes exceeds the outbox cap of ${capBytes} bytes`), { tooLarge: true as const });
}

export function closedError(): Error & { closed: true } {
  return Object.assign(new Error('outbox store is closed'), { closed: true as const });
}

/** Validates what callers append, so a bad record fails at the caller and never reaches the disk. */
export function checkAppend(records: NewRecord[], blobs: NewBlob[]): void {
  for (const b of blobs) checkBlobTopic(b.topic);
  for (const r of records) {
    if (!isTopic(r.topic)) throw new Error(`Expected a relative topic without spaces or wildcards for record topic but received ${JSON.stringify(r.topic)}`);
    if (r.payload.includes('\n')) throw new Error('Expected a single-line JSON payload but received one with a newline');
    for (const t of r.blobs ?? []) checkBlobTopic(t);
  }
}

function checkBlobTopic(t: string): void {
  if (!isTopic(t) || !/(^|\/)[0-9a-f]{64}$/.test(t)) {
    throw new Error(`Expected a relative topic ending in a lowercase hex SHA-256 for blob topic but received ${JSON.stringify(t)}`);
  }
}

function isTopic(t: string): boolean {
  return t.length > 0 && t.length < 1024 && !/[\s#+]/.test(t) && !t.startsWith('/') && !t.endsWith('/');
}
