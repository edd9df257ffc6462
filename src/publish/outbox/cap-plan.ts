/**
 * The disk cap policy, shared by every store so they all drop the same things: to make room for an append, drop
 * blobs of pending records (oldest first), then the oldest pending records themselves. Records being appended are
 * never dropped; an append larger than the cap alone is refused by the caller.
 */

export interface CapView {
  capBytes: number;
  usedBytes: number;
  /** Blobs still stored, oldest first, with their size. */
  blobs: Iterable<{ id: string; bytes: number }>;
  /** Removable units of pending records, oldest first (a durable store drops whole segments). */
  recordUnits: Iterable<{ bytes: number; records: number; firstSeq: number; lastSeq: number; blobIds: string[] }>;
}

export interface CapPlan {
  dropBlobs: string[];
  /** Number of record units (from the front) to drop. */
  dropUnits: number;
  lostRecords: number;
  lostSeqs?: { first: number; last: number };
}

/** Decides what to drop so that `incomingBytes` fit. */
export function planCap(view: CapView, incomingBytes: number): CapPlan {
  let over = view.usedBytes + incomingBytes - view.capBytes;
  const plan: CapPlan = { dropBlobs: [], dropUnits: 0, lostRecords: 0 };
  if (over <= 0) return plan;
  const dropped = new Set<string>();
  for (const b of view.blobs) {
    if (over <= 0) break;
    plan.dropBlobs.push(b.id);
    dropped.add(b.id);
    over -= b.bytes;
  }
  if (over <= 0) return plan;
  for (const u of view.recordUnits) {
    if (over <= 0) break;
    plan.dropUnits++;
    plan.lostRecords += u.records;
    if (u.records > 0) {
      plan.lostSeqs = { first: plan.lostSeqs?.first ?? u.firstSeq, last: u.lastSeq };
    }
    over -= u.bytes;
  }
  return plan;
}
