/**
 * The EventSink over MQTT with JSON payloads (docs/mqtt-api.md): events go to the durable outbox first and are
 * drained to the broker in order; the retained `status` topic says online/offline (last will)/stopped; `stats` is
 * published periodically; commands arrive on `cmd/+`. A Sparkplug B edge node runs beside it when configured.
 */
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt';
import type { Clock } from '../../kernel/clock.js';
import type { Logger } from '../../kernel/logger.js';
import type { MqttConfig } from '../config.js';
import { EventBuilder, type Built } from '../event-builder.js';
import type { AlarmInput, AuditInput, DefectEventInput, EncodedImage, EventSink, ScanEventInput, SinkHealth, ThumbnailInput } from '../event-sink.js';
import type { OutboxStore } from '../outbox/store.js';
import {
  SCHEMA_VERSION,
  type AlarmEvent,
  type AuditEvent,
  type Availability,
  type CommandName,
  type DefectEvent,
  type DeviceRef,
  type DeviceState,
  type ScanEvent,
  type StatsPayload,
  type StatusPayload,
} from '../payloads.js';
import type { SparkplugNode } from '../sparkplug/edge-node.js';
import { baseClientOptions } from './client-options.js';
import { CommandRouter, type CommandHandler } from './commands.js';
import { Connection } from './connection.js';
import { OutboxDrain } from './drain.js';
import { maxIncomingPacketBytes } from './packet-guard.js';
import { Topics } from './topics.js';
import { isTransition } from '../status-machine.js';

export interface MqttSinkOptions {
  config: MqttConfig & { url: string };
  device: DeviceRef;
  clock: Clock;
  logger: Logger;
  store: OutboxStore;
  softwareVersion: string;
  /** Started and stopped with the sink. */
  sparkplug?: SparkplugNode;
  /** At most one events-lost alarm per this interval, each with the count since the last (default 10 s). */
  lossAlarmIntervalMs?: number;
}

export class MqttEventSink implements EventSink {
  readonly topics: Topics;
  private readonly log: Logger;
  private readonly builder: EventBuilder;
  private readonly connection: Connection;
  private readonly drain: OutboxDrain;
  private readonly commands: CommandRouter;
  private current: DeviceState = { state: 'starting' };
  private runtimeStats: () => Record<string, number> = () => ({});
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly startedAt = Date.now();
  private closed = false;
  private closing = false;
  private underPressure = false;
  private lossAlarmAt = 0;
  private lossPending = { records: 0, first: 0, last: 0 };
  private lossTimer: NodeJS.Timeout | null = null;
  private raisingAlarm = false;
  private readonly lossAlarmIntervalMs: number;

  private constructor(private readonly opts: MqttSinkOptions) {
    const cfg = opts.config;
    this.lossAlarmIntervalMs = opts.lossAlarmIntervalMs ?? 10_000;
    this.log = opts.logger.child({ module: 'mqtt' });
    this.topics = new Topics(cfg.topicPrefix, opts.device);
    this.builder = new EventBuilder(opts.device, opts.clock, this.topics, cfg.thumbnails);
    this.drain = new OutboxDrain(opts.store, this.topics, { window: cfg.outbox.inflight, protocolVersion: cfg.protocolVersion, logger: this.log });
    this.commands = new CommandRouter({
      topics: this.topics,
      device: opts.device,
      now: () => opts.clock.wallTime(),
      logger: this.log,
      protocolVersion: cfg.protocolVersion,
      maxPayloadBytes: cfg.commands.maxPayloadBytes,
      timeoutMs: cfg.commands.timeoutMs,
      maxConcurrent: cfg.commands.maxConcurrent,
      replyTopicPrefix: cfg.commands.replyTopicPrefix,
      onHandled: async (ctx, outcome, details) => {
        if (ctx.name === 'request-status') return;
        await this.audit({
          action: `command.${ctx.name}`,
          actor: ctx.actor !== undefined ? { kind: 'mqtt', id: ctx.actor } : { kind: 'mqtt' },
          outcome,
          details,
        });
      },
    });
    this.commands.on('request-status', () => ({ status: this.status('online'), outbox: opts.store.stats(), connection: this.connection.counters }));
    const base = baseClientOptions(cfg);
    this.connection = new Connection({
      url: cfg.url,
      base,
      clientId: cfg.clientId ?? `smartscope-${opts.device.site}-${opts.device.line}-${opts.device.id}`,
      will: () => this.will(),
      reconnectMinMs: cfg.reconnectMinMs,
      reconnectMaxMs: cfg.reconnectMaxMs,
      logger: this.log,
      maxIncomingPacketBytes: maxIncomingPacketBytes(cfg.commands.maxPayloadBytes),
    });
    this.connection.on('up', (client, connack) => this.onUp(client, connack));
    this.connection.on('down', () => this.drain.detach());
  }

  /** Opens (recovers) the outbox and starts connecting; resolves without waiting for the broker. */
  static async open(opts: MqttSinkOptions): Promise<MqttEventSink> {
    const sink = new MqttEventSink(opts);
    const rec = await opts.store.open();
    sink.log.info({ ...rec, topicBase: sink.topics.base }, 'outbox opened');
    // Without a URL (an appliance with no broker configured) events stay queued, durably, and nothing connects.
    if (opts.config.url) sink.connection.start();
    if (opts.config.statsIntervalS > 0) {
      sink.statsTimer = setInterval(() => sink.publishStats(), opts.config.statsIntervalS * 1000);
      sink.statsTimer.unref();
    }
    await opts.sparkplug?.start();
    return sink;
  }

  async defect(input: DefectEventInput, thumbnail?: ThumbnailInput): Promise<DefectEvent> {
    const built = await this.builder.defect(input, thumbnail);
    await this.commit(built);
    this.opts.sparkplug?.defect(built.event);
    return built.event;
  }

  async scan(input: ScanEventInput, reportImage?: EncodedImage): Promise<ScanEvent> {
    const built = await this.builder.scan(input, reportImage);
    await this.commit(built);
    this.opts.sparkplug?.scan(built.event);
    return built.event;
  }

  async alarm(input: AlarmInput): Promise<AlarmEvent> {
    const built = this.builder.alarm(input);
    await this.commit(built);
    return built.event;
  }

  async audit(input: AuditInput): Promise<AuditEvent> {
    const built = this.builder.audit(input);
    await this.commit(built);
    return built.event;
  }

  /** Status changes: published at once; one the state machine does not allow is counted and logged (and published). */
  readonly statusCounters = { transitions: 0, illegalTransitions: 0 };

  async state(state: DeviceState): Promise<void> {
    const from = this.current.state;
    if (from !== state.state) {
      this.statusCounters.transitions++;
      if (!isTransition(from, state.state)) {
        this.statusCounters.illegalTransitions++;
        this.log.warn({ from, to: state.state }, 'status change outside the device state machine');
      }
    }
    this.current = { ...state };
    this.opts.sparkplug?.state(this.current);
    const client = this.connection.current;
    if (client) await this.publishStatus(client, 'online');
  }

  onCommand<N extends CommandName>(name: N, handler: CommandHandler<N>): () => void {
    return this.commands.on(name, handler);
  }

  setRuntimeStats(provider: () => Record<string, number>): void {
    this.runtimeStats = provider;
  }

  health(): SinkHealth {
    const s = this.opts.store.stats();
    return {
      connected: this.connection.connected,
      brokerConfigured: this.opts.config.url !== '',
      pendingEvents: s.pendingRecords,
      eventsLost: s.lostRecords,
      thumbnailsDropped: s.droppedBlobs,
      commandsRejected: this.commands.counters.rejected,
    };
  }

  /** The broker this sink talks to (the embedded demo broker's when no URL was configured; '' for none). */
  get url(): string {
    return this.opts.config.url;
  }

  /** Counters for tests, stats and the health endpoint. */
  counters(): { drain: OutboxDrain['counters']; commands: CommandRouter['counters']; connection: Connection['counters'] } {
    return { drain: this.drain.counters, commands: this.commands.counters, connection: this.connection.counters };
  }

  /** Resolves when everything in the outbox has been acknowledged by the broker (or after `timeoutMs`). */
  drained(timeoutMs = 10_000): Promise<boolean> {
    return this.drain.idle(timeoutMs);
  }

  async close(drainTimeoutMs = 2000): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    // The state machine's way out: stopping (while the outbox drains), then stopped.
    if (this.current.state !== 'stopping')
      await this.state({ state: 'stopping', ...(this.current.models ? { models: this.current.models } : {}) }).catch(() => undefined);
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.lossTimer) clearTimeout(this.lossTimer);
    // A loss still waiting for its (rate-limited) alarm is reported now, so the outbox keeps it for the next start.
    await this.raiseLossAlarm().catch((err: Error) => this.log.error({ err: err.message }, 'cannot raise the events-lost alarm'));
    this.closed = true;
    if (this.connection.connected) await this.drain.idle(drainTimeoutMs);
    await this.opts.sparkplug?.stop();
    this.current = { state: 'stopped', ...(this.current.models ? { models: this.current.models } : {}) };
    await this.connection.stop(async (client) => {
      await this.publishStatus(client, 'stopped');
    });
    this.drain.detach();
    await this.opts.store.close();
  }

  private async commit(built: Built<unknown>): Promise<void> {
    if (this.closed) throw new Error('the event sink is closed');
    const res = await this.opts.store.append([built.record], built.blobs);
    this.drain.notify();
    if (res.droppedBlobs > 0 || res.lostRecords > 0) await this.onLoss(res.droppedBlobs, res.lostRecords, res.lostSeqs);
    else if (this.underPressure) await this.checkPressure();
  }

  private onUp(client: MqttClient, connack: IConnackPacket): void {
    client.on('message', (topic, payload, packet) => {
      if (this.connection.current === client) this.commands.handle(client, topic, payload, packet);
    });
    void this.publishStatus(client, 'online').catch((err: Error) => this.log.warn({ err: err.message }, 'status publish failed'));
    if (this.opts.config.commands.enabled) {
      client.subscribe(this.topics.commandFilter, { qos: 1 }, (err) => {
        if (err) this.log.error({ err: err.message, topic: this.topics.commandFilter }, 'cannot subscribe to commands');
      });
    }
    this.drain.attach(client, connack.properties?.receiveMaximum);
    this.publishStats();
  }

  private status(availability: Availability): StatusPayload {
    // Status and stats describe the process now: stamped with the system's wall time, which moves while the
    // instrument's clock waits (a simulated one stands still when nothing runs).
    return {
      schemaVersion: SCHEMA_VERSION,
      ts: new Date().toISOString(),
      device: this.opts.device,
      availability,
      softwareVersion: this.opts.softwareVersion,
      ...this.current,
    };
  }

  private will(): IClientOptions['will'] {
    const payload = JSON.stringify({ ...this.status('offline'), state: 'unknown' });
    const will: NonNullable<IClientOptions['will']> = { topic: this.topics.status, payload: Buffer.from(payload), qos: 1, retain: true };
    if (this.opts.config.protocolVersion === 5) will.properties = { contentType: 'application/json', payloadFormatIndicator: true };
    return will;
  }

  private async publishStatus(client: MqttClient, availability: Availability): Promise<void> {
    const props = this.opts.config.protocolVersion === 5 ? { properties: { contentType: 'application/json', payloadFormatIndicator: true } } : {};
    await client.publishAsync(this.topics.status, JSON.stringify(this.status(availability)), { qos: 1, retain: true, ...props });
  }

  private publishStats(): void {
    const client = this.connection.current;
    if (!client) return;
    const s = this.opts.store.stats();
    const d = this.drain.counters;
    const c = this.commands.counters;
    let runtime: Record<string, number> = {};
    try {
      runtime = Object.fromEntries(Object.entries(this.runtimeStats()).filter(([k, v]) => /^[A-Za-z0-9_.]+$/.test(k) && Number.isFinite(v)));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'runtime stats provider failed');
    }
    const stats: StatsPayload = {
      schemaVersion: SCHEMA_VERSION,
      ts: new Date().toISOString(),
      device: this.opts.device,
      intervalS: this.opts.config.statsIntervalS || 60,
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      connection: { connected: true, connects: this.connection.counters.connects, disconnects: this.connection.counters.disconnects },
      outbox: {
        pendingEvents: s.pendingRecords,
        pendingBytes: s.pendingBytes,
        diskBytes: s.diskBytes,
        capBytes: s.capBytes,
        thumbnailsDropped: s.droppedBlobs,
        eventsLost: s.lostRecords,
      },
      published: { events: d.events, images: d.images, bytes: d.bytes },
      commands: {
        received: c.received,
        rejected: c.rejected,
        failed: c.failed,
        replied: c.replied,
        replyTopicRefused: c.replyTopicRefused,
        oversizeDropped: this.connection.counters.oversizeDropped,
      },
      runtime,
    };
    client.publish(this.topics.stats, JSON.stringify(stats), { qos: 0, retain: false });
    if (this.underPressure) void this.checkPressure();
  }

  /** Disk cap policy made visible: one warning alarm per episode of dropped thumbnails, critical alarms for lost events. */
  private async onLoss(droppedBlobs: number, lostRecords: number, lostSeqs?: { first: number; last: number }): Promise<void> {
    if (this.raisingAlarm) return;
    this.raisingAlarm = true;
    try {
      const s = this.opts.store.stats();
      if (droppedBlobs > 0) {
        this.log.warn({ dropped: droppedBlobs, total: s.droppedBlobs }, 'outbox full: dropped queued thumbnails');
        if (!this.underPressure) {
          this.underPressure = true;
          await this.alarm({
            code: 'outbox.thumbnails_dropped',
            severity: 'warning',
            active: true,
            message: 'The outbox reached its disk cap: queued thumbnails are being dropped; their events are kept.',
            details: { droppedTotal: s.droppedBlobs, capBytes: s.capBytes },
          });
        }
      }
      if (lostRecords > 0) {
        this.log.error({ lost: lostRecords, seqs: lostSeqs, total: s.lostRecords }, 'outbox full: dropped the oldest queued events');
        this.lossPending.records += lostRecords;
        if (lostSeqs) {
          this.lossPending.first ||= lostSeqs.first;
          this.lossPending.last = lostSeqs.last;
        }
        if (Date.now() - this.lossAlarmAt >= this.lossAlarmIntervalMs) await this.raiseLossAlarm();
        else if (!this.lossTimer) {
          this.lossTimer = setTimeout(() => {
            this.lossTimer = null;
            void this.raiseLossAlarm().catch((err: Error) => this.log.error({ err: err.message }, 'cannot raise the events-lost alarm'));
          }, this.lossAlarmIntervalMs);
          this.lossTimer.unref();
        }
      }
    } finally {
      this.raisingAlarm = false;
    }
  }

  private async raiseLossAlarm(): Promise<void> {
    if (this.lossPending.records === 0 || this.closed) return;
    const p = this.lossPending;
    this.lossPending = { records: 0, first: 0, last: 0 };
    this.lossAlarmAt = Date.now();
    await this.alarm({
      code: 'outbox.events_lost',
      severity: 'critical',
      active: true,
      message: `The outbox reached its disk cap with no thumbnails left to drop: ${p.records} queued events were lost (oldest first).`,
      // The totals travel with every loss alarm: an earlier alarm may itself have been among the oldest events dropped.
      details: {
        lost: p.records,
        lostTotal: this.opts.store.stats().lostRecords,
        thumbnailsDroppedTotal: this.opts.store.stats().droppedBlobs,
        outboxSeqFirst: p.first,
        outboxSeqLast: p.last,
      },
    });
  }

  private async checkPressure(): Promise<void> {
    const s = this.opts.store.stats();
    if (!this.underPressure || s.diskBytes > s.capBytes / 2) return;
    this.underPressure = false;
    await this.alarm({
      code: 'outbox.thumbnails_dropped',
      severity: 'warning',
      active: false,
      message: 'The outbox is below half its disk cap again.',
      details: { droppedTotal: s.droppedBlobs },
    });
  }
}
