/**
 * Factories for the composition root: the MQTT event sink (with the embedded demo broker when no URL is
 * configured) and the in-memory sink for tests and dry runs.
 */
import { join } from 'node:path';
import { packageVersion } from '../kernel/paths.js';
import type { Clock } from '../kernel/clock.js';
import type { Logger } from '../kernel/logger.js';
import type { MqttConfig } from './config.js';
import type { DeviceRef } from './payloads.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
import { baseClientOptions } from './mqtt/client-options.js';
import { MqttEventSink } from './mqtt/mqtt-sink.js';
import { FileStore } from './outbox/file-store.js';
import type { OutboxStore } from './outbox/store.js';
import { SparkplugNode } from './sparkplug/edge-node.js';

export type {
  EventSink,
  SinkHealth,
  DefectEventInput,
  ScanEventInput,
  AlarmInput,
  AuditInput,
  ThumbnailInput,
  EncodedImage,
  CommandHandler,
  CommandContext,
} from './event-sink.js';
export type * from './payloads.js';
export { SCHEMA_VERSION } from './payloads.js';
export { MqttEventSink } from './mqtt/mqtt-sink.js';
export { MemoryEventSink } from './memory-sink.js';
export { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker.js';
export { renderThumbnail, type ThumbnailSource } from './thumbnails.js';
export { mqttSchema, type MqttConfig } from './config.js';

export interface EventSinkDeps {
  clock: Clock;
  logger: Logger;
  device: DeviceRef;
  /** Default: the version in package.json. */
  softwareVersion?: string;
  /** Default: the file store in `mqtt.outbox.dir`. */
  store?: OutboxStore;
}

/**
 * Builds and starts the MQTT event sink: opens (recovers) the outbox, starts connecting (the sink works, durably,
 * while the broker is away), and starts the Sparkplug edge node when configured. Without `mqtt.url` it first starts
 * the embedded demo broker, which closes with the sink — unless `embeddedBroker: false` (the appliance): then the
 * sink only queues, durably, and never connects.
 */
export async function createEventSink(config: { mqtt: MqttConfig }, deps: EventSinkDeps, opts: { embeddedBroker?: boolean } = {}): Promise<MqttEventSink> {
  let cfg = config.mqtt;
  const log = deps.logger.child({ module: 'mqtt' });
  let broker: EmbeddedBroker | undefined;
  let url = cfg.url;
  if (!url && opts.embeddedBroker === false) {
    // The appliance: no broker configured means no delivery yet, never a broker of our own that would swallow them.
    log.warn({ outbox: cfg.outbox.dir }, 'mqtt.url is not set: events stay in the outbox until a broker is configured');
    const store =
      deps.store ??
      new FileStore({ dir: cfg.outbox.dir, capBytes: Math.floor(cfg.outbox.maxDiskMiB * 1024 * 1024), segmentBytes: cfg.outbox.segmentKiB * 1024 });
    return MqttEventSink.open({
      config: { ...cfg, url: '' },
      device: deps.device,
      clock: deps.clock,
      logger: deps.logger,
      store,
      softwareVersion: deps.softwareVersion ?? packageVersion(),
    });
  }
  if (!url) {
    broker = await startEmbeddedBroker();
    url = broker.url;
    // aedes speaks MQTT 3.1.1 only.
    cfg = { ...cfg, protocolVersion: 4 };
    log.warn({ url }, 'mqtt.url is not set: started the embedded demo broker (MQTT 3.1.1, loopback only, not for production)');
  }
  const softwareVersion = deps.softwareVersion ?? packageVersion();
  const store =
    deps.store ?? new FileStore({ dir: cfg.outbox.dir, capBytes: Math.floor(cfg.outbox.maxDiskMiB * 1024 * 1024), segmentBytes: cfg.outbox.segmentKiB * 1024 });
  let sparkplug: SparkplugNode | undefined;
  if (cfg.sparkplug.enabled) {
    const sp = cfg.sparkplug;
    const edgeNodeId = sp.edgeNodeId ?? `${deps.device.line}-${deps.device.id}`;
    const opts: ConstructorParameters<typeof SparkplugNode>[0] = {
      url,
      base: baseClientOptions(cfg),
      clientId: `${cfg.clientId ?? `smartscope-${deps.device.site}-${deps.device.line}-${deps.device.id}`}-spb`,
      groupId: sp.groupId,
      edgeNodeId,
      deviceId: sp.deviceId,
      bdSeqFile: join(cfg.outbox.dir, 'sparkplug-bdseq'),
      softwareVersion,
      now: () => deps.clock.wallTime().getTime(),
      logger: deps.logger,
      reconnectMinMs: cfg.reconnectMinMs,
      reconnectMaxMs: cfg.reconnectMaxMs,
    };
    if (sp.primaryHostId) opts.primaryHostId = sp.primaryHostId;
    sparkplug = new SparkplugNode(opts);
  }
  const sinkOpts: Parameters<typeof MqttEventSink.open>[0] = {
    config: { ...cfg, url },
    device: deps.device,
    clock: deps.clock,
    logger: deps.logger,
    store,
    softwareVersion,
  };
  if (sparkplug) sinkOpts.sparkplug = sparkplug;
  const sink = await MqttEventSink.open(sinkOpts);
  if (broker) {
    const close = sink.close.bind(sink);
    sink.close = async (...args: Parameters<typeof close>) => {
      await close(...args);
      await broker!.close();
    };
  }
  return sink;
}
