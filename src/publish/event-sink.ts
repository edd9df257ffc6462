/**
 * The EventSink port: where the runtime's results go (the plant's MES over MQTT, or memory in tests).
 *
 * Contract:
 * - `defect()`, `scan()`, `alarm()` and `audit()` resolve once the event (and its image) is durable: written and
 *   fsync'd to the outbox. From then on the event reaches the broker eventually, in call order, across broker outages
 *   and process crashes (at-least-once; a duplicate carries the same `eventId`). They resolve with the event as it
 *   will be published (`historical` is decided at publication).
 * - They reject, and store nothing, when the event does not match its JSON Schema (the error names the field), or
 *   when the image cannot be rendered.
 * - An image is published before the event that references it, so a subscriber never sees an event whose image is
 *   missing — unless the outbox had to drop the image under its disk cap; the event then says `dropped: true`.
 * - `state()` updates the retained status; it is not queued (the current state is published on every reconnect).
 * - `onCommand()` registers the handler of a command; requests are validated before a handler sees them, and a
 *   handler's return value (or thrown error) becomes the reply.
 */
import type { CommandHandler } from './mqtt/commands.js';
import type {
  AlarmEvent,
  AuditEvent,
  CommandName,
  DefectEvent,
  DeviceState,
  EventEnvelope,
  ScanEvent,
  ScanFinishedEvent,
  ScanProgressEvent,
  ScanStartedEvent,
} from './payloads.js';
import type { ThumbnailSource } from './thumbnails.js';

export type { CommandContext, CommandHandler } from './mqtt/commands.js';

/** Envelope fields a producer may set itself (a replayed journal keeps its ids); the sink fills in the rest. */
type Producer<T extends EventEnvelope> = Omit<T, keyof EventEnvelope> & { eventId?: string; ts?: string };

export type DefectEventInput = Producer<Omit<DefectEvent, 'thumbnail'>>;
export type ScanEventInput =
  | Producer<ScanStartedEvent>
  | Producer<ScanProgressEvent>
  | Producer<Omit<ScanFinishedEvent, 'summary'> & { summary: Omit<ScanFinishedEvent['summary'], 'reportImage'> }>;
export type AlarmInput = Producer<AlarmEvent>;
export type AuditInput = Producer<AuditEvent>;

/** An image already encoded as JPEG. */
export interface EncodedImage {
  jpeg: Buffer;
  widthPx: number;
  heightPx: number;
}

/** A thumbnail to render (thumbnails.ts), or one already encoded. */
export type ThumbnailInput = ThumbnailSource | EncodedImage;

export interface SinkHealth {
  connected: boolean;
  /** False when no broker is configured (mqtt.url): events wait in the outbox by design. */
  brokerConfigured?: boolean;
  pendingEvents: number;
  eventsLost: number;
  thumbnailsDropped: number;
  commandsRejected: number;
}

export interface EventSink {
  defect(event: DefectEventInput, thumbnail?: ThumbnailInput): Promise<DefectEvent>;
  scan(event: ScanEventInput, reportImage?: EncodedImage): Promise<ScanEvent>;
  alarm(event: AlarmInput): Promise<AlarmEvent>;
  audit(event: AuditInput): Promise<AuditEvent>;
  state(state: DeviceState): Promise<void>;
  onCommand<N extends CommandName>(name: N, handler: CommandHandler<N>): () => void;
  /** Figures other parts of the runtime add to the periodic stats (unit in each name). */
  setRuntimeStats(provider: () => Record<string, number>): void;
  health(): SinkHealth;
  /** Publishes the last status (stopped), waits briefly for the outbox to drain, and releases everything. */
  close(): Promise<void>;
}

export function isEncodedImage(t: ThumbnailInput): t is EncodedImage {
  return Buffer.isBuffer((t as EncodedImage).jpeg);
}
