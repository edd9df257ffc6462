/**
 * The simulated EventSink: builds and validates every event exactly as the MQTT sink does (envelope, images, JSON
 * Schema), and keeps them in memory instead of publishing. For tests of the scan engine and for dry runs; commands
 * are injected with `command()` and go through the same validation as on the wire.
 */
import type { Clock } from '../kernel/clock.js';
import { EventBuilder } from './event-builder.js';
import type { AlarmInput, AuditInput, DefectEventInput, EncodedImage, EventSink, ScanEventInput, SinkHealth, ThumbnailInput } from './event-sink.js';
import type { CommandContext, CommandHandler } from './mqtt/commands.js';
import { Topics } from './mqtt/topics.js';
import type { AlarmEvent, AuditEvent, CommandName, CommandPayloads, DefectEvent, DeviceRef, DeviceState, ScanEvent } from './payloads.js';
import { commandSchemas, commandValidator, describeErrors } from './schemas/index.js';
import { defaultThumbnailOptions, type ThumbnailOptions } from './thumbnails.js';

export class MemoryEventSink implements EventSink {
  readonly defects: DefectEvent[] = [];
  readonly scans: ScanEvent[] = [];
  readonly alarms: AlarmEvent[] = [];
  readonly audits: AuditEvent[] = [];
  readonly states: DeviceState[] = [];
  /** Image bytes by id (content address). */
  readonly images = new Map<string, Buffer>();
  private readonly builder: EventBuilder;
  private readonly handlers = new Map<CommandName, CommandHandler>();
  private rejected = 0;
  private closed = false;
  private runtime: () => Record<string, number> = () => ({});

  constructor(device: DeviceRef, clock: Clock, opts: { topicPrefix?: string; thumbnails?: ThumbnailOptions } = {}) {
    this.builder = new EventBuilder(device, clock, new Topics(opts.topicPrefix ?? 'smartscope', device), opts.thumbnails ?? defaultThumbnailOptions);
  }

  async defect(input: DefectEventInput, thumbnail?: ThumbnailInput): Promise<DefectEvent> {
    this.open();
    const b = await this.builder.defect(input, thumbnail);
    for (const blob of b.blobs) this.images.set(blob.topic.slice(-64), blob.bytes);
    this.defects.push(b.event);
    return b.event;
  }

  async scan(input: ScanEventInput, reportImage?: EncodedImage): Promise<ScanEvent> {
    this.open();
    const b = await this.builder.scan(input, reportImage);
    for (const blob of b.blobs) this.images.set(blob.topic.slice(-64), blob.bytes);
    this.scans.push(b.event);
    return b.event;
  }

  async alarm(input: AlarmInput): Promise<AlarmEvent> {
    this.open();
    const b = this.builder.alarm(input);
    this.alarms.push(b.event);
    return b.event;
  }

  async audit(input: AuditInput): Promise<AuditEvent> {
    this.open();
    const b = this.builder.audit(input);
    this.audits.push(b.event);
    return b.event;
  }

  async state(state: DeviceState): Promise<void> {
    this.states.push({ ...state });
  }

  onCommand<N extends CommandName>(name: N, handler: CommandHandler<N>): () => void {
    if (!(name in commandSchemas))
      throw new Error(`Expected one of ${Object.keys(commandSchemas).join(', ')} for command name but received ${JSON.stringify(name)}`);
    this.handlers.set(name, handler as CommandHandler);
    return () => this.handlers.delete(name);
  }

  /** Delivers a command as if it came from the broker; resolves with the reply body. */
  async command(name: string, payload: unknown): Promise<{ status: 'ok' | 'error'; data?: unknown; error?: { code: string; message: string } }> {
    if (!(name in commandSchemas)) {
      this.rejected++;
      return { status: 'error', error: { code: 'unknown_command', message: `unknown command "${name}"; known: ${Object.keys(commandSchemas).join(', ')}` } };
    }
    const cmd = name as CommandName;
    const validate = commandValidator(cmd);
    if (!validate(payload)) {
      this.rejected++;
      return { status: 'error', error: { code: 'invalid', message: describeErrors(validate.errors) } };
    }
    const handler = this.handlers.get(cmd);
    if (!handler) {
      this.rejected++;
      return { status: 'error', error: { code: 'not_available', message: `no handler for "${cmd}" in this runtime` } };
    }
    const ctx: CommandContext = { name: cmd };
    const tx = (payload as { transaction?: string }).transaction;
    if (tx !== undefined) ctx.transaction = tx;
    try {
      const data = await handler(payload as CommandPayloads[CommandName], ctx);
      return data === undefined ? { status: 'ok' } : { status: 'ok', data };
    } catch (err) {
      return { status: 'error', error: { code: 'failed', message: (err as Error).message } };
    }
  }

  setRuntimeStats(provider: () => Record<string, number>): void {
    this.runtime = provider;
  }

  /** The figures the runtime contributed (what the MQTT sink would publish in stats). */
  runtimeStats(): Record<string, number> {
    return this.runtime();
  }

  health(): SinkHealth {
    return { connected: true, pendingEvents: 0, eventsLost: 0, thumbnailsDropped: 0, commandsRejected: this.rejected };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private open(): void {
    if (this.closed) throw new Error('the event sink is closed');
  }
}
