/**
 * Waiting for the outbox to reach the broker before a short-lived program exits (the demo, one-shot tools): the
 * events stay durable either way; this only decides whether the program may say "delivered". Progress is reported
 * while the broker is away or slow, so a person sees why the program has not returned.
 */
import type { SinkHealth } from './event-sink.js';

export interface DeliveryProgress {
  /** Events still in the outbox. */
  pending: number;
  /** Events delivered since the wait began. */
  delivered: number;
  connected: boolean;
  elapsedMs: number;
}

export interface DeliveryResult {
  /** Events still queued when the wait ended (0: everything was acknowledged by the broker). */
  pending: number;
  delivered: number;
  waitedMs: number;
}

/**
 * Resolves when the outbox is empty or `timeoutMs` has passed, whichever comes first; never rejects. `onProgress`
 * is called about every `everyMs` while events are pending.
 */
export async function waitForDelivery(
  sink: { health(): SinkHealth },
  opts: { timeoutMs: number; everyMs?: number; onProgress?: (p: DeliveryProgress) => void },
): Promise<DeliveryResult> {
  const t0 = Date.now();
  const first = sink.health().pendingEvents;
  const every = opts.everyMs ?? 250;
  for (;;) {
    const h = sink.health();
    const elapsedMs = Date.now() - t0;
    const delivered = Math.max(0, first - h.pendingEvents);
    if (h.pendingEvents === 0 || elapsedMs >= opts.timeoutMs) return { pending: h.pendingEvents, delivered, waitedMs: elapsedMs };
    opts.onProgress?.({ pending: h.pendingEvents, delivered, connected: h.connected, elapsedMs });
    await new Promise((r) => setTimeout(r, Math.min(every, Math.max(1, opts.timeoutMs - elapsedMs))));
  }
}
