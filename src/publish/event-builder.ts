/**
 * Turns what a producer hands the EventSink into the exact payload that will be published: envelope (UUIDv7 id,
 * schema version, RFC 3339 time, device), rendered image with its content address, and a check against the JSON
 * Schema — so a bad event fails at its producer with the field named, before anything reaches the disk.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Clock } from '../kernel/clock.js';
import {
  isEncodedImage,
  type AlarmInput,
  type AuditInput,
  type DefectEventInput,
  type EncodedImage,
  type ScanEventInput,
  type ThumbnailInput,
} from './event-sink.js';
import type { NewBlob, NewRecord } from './outbox/store.js';
import { relativeTopics, type Topics } from './mqtt/topics.js';
import { SCHEMA_VERSION, type AlarmEvent, type AuditEvent, type DefectEvent, type DeviceRef, type ImageRef, type ScanEvent } from './payloads.js';
import { describeErrors, payloadValidator, type PayloadName } from './schemas/index.js';
import { renderThumbnail, sha256Hex, type ThumbnailOptions } from './thumbnails.js';

export interface Built<T> {
  event: T;
  record: NewRecord;
  blobs: NewBlob[];
}

export class EventBuilder {
  constructor(
    private readonly device: DeviceRef,
    private readonly clock: Clock,
    private readonly topics: Topics,
    private readonly thumbnailOptions: ThumbnailOptions,
  ) {}

  async defect(input: DefectEventInput, thumbnail?: ThumbnailInput): Promise<Built<DefectEvent>> {
    const event = this.envelope<DefectEvent>(input);
    const blobs: NewBlob[] = [];
    if (thumbnail) {
      const img = isEncodedImage(thumbnail) ? thumbnail : await this.render(thumbnail);
      const { ref, blob } = this.image(img, relativeTopics.thumbnail);
      event.thumbnail = ref;
      blobs.push(blob);
    }
    return this.finish('defect-event', event, relativeTopics.defect, blobs);
  }

  async scan(input: ScanEventInput, reportImage?: EncodedImage): Promise<Built<ScanEvent>> {
    const event = this.envelope<ScanEvent>(input);
    const blobs: NewBlob[] = [];
    if (reportImage) {
      if (event.phase !== 'finished') throw new Error(`a report image belongs to a finished scan event, not to phase "${event.phase}"`);
      const { ref, blob } = this.image(reportImage, relativeTopics.reportImage);
      event.summary = { ...event.summary, reportImage: ref };
      blobs.push(blob);
    }
    return this.finish('scan-event', event, relativeTopics.scan, blobs);
  }

  alarm(input: AlarmInput): Built<AlarmEvent> {
    return this.finish('alarm-event', this.envelope<AlarmEvent>(input), relativeTopics.alarm, []);
  }

  audit(input: AuditInput): Built<AuditEvent> {
    return this.finish('audit-event', this.envelope<AuditEvent>(input), relativeTopics.audit, []);
  }

  now(): string {
    return this.clock.wallTime().toISOString();
  }

  private envelope<T>(input: { eventId?: string; ts?: string }): T {
    const { eventId, ts, ...rest } = input;
    // Envelope first so the published JSON reads in a stable order; the sink's own fields win over a producer's.
    const out: Record<string, unknown> = {
      schemaVersion: SCHEMA_VERSION,
      eventId: eventId ?? uuidv7(),
      ts: ts ?? this.now(),
      device: this.device,
      historical: false,
      ...rest,
    };
    out.schemaVersion = SCHEMA_VERSION;
    out.device = this.device;
    out.historical = false;
    return out as T;
  }

  private async render(src: Exclude<ThumbnailInput, EncodedImage>): Promise<EncodedImage> {
    const t = await renderThumbnail(src, this.thumbnailOptions);
    return { jpeg: t.jpeg, widthPx: t.widthPx, heightPx: t.heightPx };
  }

  private image(img: EncodedImage, topicOf: (id: string) => string): { ref: ImageRef; blob: NewBlob } {
    if (img.jpeg.length < 4 || img.jpeg[0] !== 0xff || img.jpeg[1] !== 0xd8) {
      throw new Error(
        `Expected JPEG bytes (starting FF D8) for image but received ${img.jpeg.length} bytes starting ${img.jpeg.subarray(0, 2).toString('hex') || 'with nothing'}`,
      );
    }
    const id = sha256Hex(img.jpeg);
    const topic = topicOf(id);
    return {
      ref: { id, sha256: id, topic: this.topics.full(topic), bytes: img.jpeg.length, widthPx: img.widthPx, heightPx: img.heightPx, contentType: 'image/jpeg' },
      blob: { topic, bytes: img.jpeg },
    };
  }

  private finish<T>(schema: PayloadName, event: T, topic: string, blobs: NewBlob[]): Built<T> {
    const validate = payloadValidator(schema);
    if (!validate(event)) throw new Error(`invalid ${schema.replace('-', ' ')}: ${describeErrors(validate.errors)}`);
    return { event, record: { topic, payload: JSON.stringify(event), blobs: blobs.map((b) => b.topic) }, blobs };
  }
}
