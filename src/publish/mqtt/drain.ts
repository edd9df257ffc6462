/**
 * Drains the outbox to the broker, in order, QoS 1, with a bounded window of unacknowledged messages.
 *
 * - A record's blobs (thumbnails, report images) are published before the record itself on the same connection;
 *   MQTT keeps the order of QoS 1 messages from one client (MQTT 5 §4.6, 3.1.1 §4.6), so a subscriber to both topics
 *   receives the image first. A blob the outbox dropped under its disk cap is skipped, and the event says so
 *   (`dropped: true` in its image reference).
 * - A record counts as delivered when the broker acknowledged it and its blobs; the store is acknowledged up to the
 *   longest delivered prefix, so after a lost connection or a crash the drain resumes at the first undelivered
 *   record (at-least-once: a re-sent event keeps its event id).
 * - `historical` is set at publication: true for records appended before this connection came up (produced while
 *   offline, or by an earlier run).
 * - A negative acknowledgement (MQTT 5 reason code ≥ 0x80, e.g. not authorised) is logged and counted, and the record
 *   is treated as delivered: the broker decided, like a 3.1.1 broker that silently drops a denied publish.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { Logger } from '../../kernel/logger.js';
import type { OutboxStore, StoredRecord } from '../outbox/store.js';
import type { Topics } from './topics.js';

export interface DrainCounters {
  events: number;
  images: number;
  bytes: number;
  /** Messages the broker refused with a negative acknowledgement. */
  refused: number;
  /** Images skipped because the outbox had dropped them. */
  imagesMissing: number;
}

interface Inflight {
  seq: number;
  waiting: number;
}

export class OutboxDrain {
  readonly counters: DrainCounters = { events: 0, images: 0, bytes: 0, refused: 0, imagesMissing: 0 };
  private session = 0;
  private wake: (() => void) | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: OutboxStore,
    private readonly topics: Topics,
    private readonly opts: { window: number; protocolVersion: 4 | 5; logger: Logger },
  ) {}

  /** Starts draining on a connected client; `window` may be lowered by the broker's Receive Maximum. */
  attach(client: MqttClient, receiveMaximum?: number): void {
    const id = ++this.session;
    const window = Math.max(1, Math.min(this.opts.window, receiveMaximum ?? Number.POSITIVE_INFINITY));
    const historicalUpTo = this.store.stats().lastSeq;
    void this.loop(id, client, window, historicalUpTo).catch((err: Error) => {
      if (this.session === id) this.opts.logger.error({ err: err.message }, 'outbox drain stopped');
    });
    this.notify();
  }

  /** Stops using the client (connection lost or closing). Unacknowledged records are sent again on the next attach. */
  detach(): void {
    this.session++;
    this.notify();
  }

  /** Something was appended (or acknowledged): look again. */
  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** Resolves when the outbox is empty or `timeoutMs` passed (for a clean shutdown). */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.store.stats().pendingRecords === 0) return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  private async loop(id: number, client: MqttClient, window: number, historicalUpTo: number): Promise<void> {
    const queue: Inflight[] = [];
    let inflightMessages = 0;
    let readAfter = this.store.stats().ackedSeq;
    const alive = (): boolean => this.session === id;

    const settle = (item: Inflight): void => {
      if (--item.waiting > 0 || !alive()) return;
      let last = 0;
      while (queue.length > 0 && queue[0]!.waiting === 0) last = queue.shift()!.seq;
      if (last > 0) {
        this.store.ack(last).catch((err: Error) => this.opts.logger.error({ err: err.message }, 'outbox acknowledgement failed'));
        if (queue.length === 0 && this.store.stats().pendingRecords === 0) for (const f of this.idleWaiters.splice(0)) f();
      }
      this.notify();
    };

    const send = (topic: string, payload: Buffer | string, props: IClientPublishOptions['properties'], item: Inflight, kind: 'events' | 'images'): void => {
      inflightMessages++;
      item.waiting++;
      const options: IClientPublishOptions = { qos: 1, retain: false };
      if (this.opts.protocolVersion === 5 && props) options.properties = props;
      client.publish(topic, payload, options, (err) => {
        if (!alive()) return;
        inflightMessages--;
        if (err) {
          const code = (err as Error & { code?: number }).code;
          if (typeof code !== 'number') return; // connection closing: the next session sends it again
          this.counters.refused++;
          this.opts.logger.error({ topic, reasonCode: code, err: err.message }, 'broker refused a message; it will not be sent again');
        } else {
          this.counters[kind]++;
          this.counters.bytes += typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
        }
        settle(item);
      });
    };

    while (alive()) {
      const room = window - inflightMessages;
      const records = room > 0 ? await this.store.read(readAfter, Math.max(1, Math.floor(room / 2))) : [];
      if (!alive()) return;
      if (records.length === 0) {
        if (queue.length === 0 && this.store.stats().pendingRecords === 0) for (const f of this.idleWaiters.splice(0)) f();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      for (const rec of records) {
        const item: Inflight = { seq: rec.seq, waiting: 1 };
        queue.push(item);
        readAfter = rec.seq;
        const missing: string[] = [];
        for (const blobTopic of rec.blobs) {
          const blob = await this.store.getBlob(blobTopic);
          if (!alive()) return;
          if (!blob) {
            missing.push(this.topics.full(blobTopic));
            this.counters.imagesMissing++;
            continue;
          }
          send(this.topics.full(blob.topic), blob.bytes, { contentType: 'image/jpeg' }, item, 'images');
        }
        const payload = finalPayload(rec, rec.seq <= historicalUpTo, missing);
        send(this.topics.full(rec.topic), payload, { contentType: 'application/json', payloadFormatIndicator: true }, item, 'events');
        settle(item); // releases the placeholder taken at creation
      }
    }
  }
}

/** The stored JSON with `historical` set and the references to dropped images (by full topic) marked. */
export function finalPayload(rec: StoredRecord, historical: boolean, missingBlobs: string[]): string {
  const obj = JSON.parse(rec.payload) as Record<string, unknown>;
  obj.historical = historical;
  if (missingBlobs.length > 0) markDropped(obj, new Set(missingBlobs), 0);
  return JSON.stringify(obj);
}

function markDropped(node: unknown, topics: Set<string>, depth: number): void {
  if (depth > 4 || node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (typeof o.topic === 'string' && topics.has(o.topic) && o.contentType === 'image/jpeg') o.dropped = true;
  for (const v of Object.values(o)) markDropped(v, topics, depth + 1);
}
