/**
 * Config section `mqtt`: the connection to the plant's broker, the topic layout, the durable outbox, thumbnails,
 * commands and the Sparkplug B edge node. docs/mqtt-api.md explains each choice.
 */
import { bool, int, num, obj, secretRef, str, type Schema } from '../kernel/schema-kit.js';
import type { Secret } from '../kernel/secret.js';

const file = (description: string): Schema => str(description, undefined, { minLength: 1 });

export const mqttSchema: Schema = obj('MQTT to the plant: events, thumbnails, status, stats and commands (docs/mqtt-api.md).', {
  url: str(
    'Broker URL (mqtt://host:1883 or mqtts://host:8883). Left out: the daemon keeps every event in the outbox until one is configured; the demo starts an embedded broker on a free loopback port.',
    undefined,
    { pattern: '^(mqtt|mqtts|tcp|tls|ssl)://[^\\s]+$' },
  ),
  protocolVersion: { type: 'integer', enum: [4, 5], default: 5, description: 'MQTT protocol version: 5, or 4 for MQTT 3.1.1 brokers.' },
  clientId: str('Client id (default: smartscope-<site>-<line>-<device>).', undefined, { minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.-]+$' }),
  topicPrefix: str('First topic level(s) before <site>/<line>/<device>.', 'smartscope', {
    minLength: 1,
    maxLength: 128,
    pattern: '^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$',
  }),
  keepaliveS: int('MQTT keepalive: the broker declares the device offline (last will) after 1.5 times this without traffic.', 30, 5, 3600, 's'),
  connectTimeoutMs: int('Time allowed for the broker to accept a connection.', 10_000, 500, 120_000, 'ms'),
  reconnectMinMs: int('First delay before reconnecting after a lost connection; it doubles up to reconnectMaxMs.', 500, 50, 60_000, 'ms'),
  reconnectMaxMs: int('Longest delay between reconnection attempts.', 15_000, 100, 600_000, 'ms'),
  username: str('User name for the broker.', undefined, { minLength: 1, maxLength: 256 }),
  password: secretRef('Password for the broker; never logged.'),
  tls: obj('TLS for mqtts:// URLs.', {
    ca: file('PEM file of the CA that signed the broker certificate (left out: the system CAs).'),
    cert: file('PEM file of this device’s client certificate (mutual TLS).'),
    key: file('PEM file of the private key of the client certificate.'),
    rejectUnauthorized: bool('Refuse brokers whose certificate does not verify (turn off only for a bench test).', true),
    servername: str('Host name expected in the broker certificate, when it differs from the URL host.', undefined, { minLength: 1 }),
  }),
  outbox: obj('Durable outbox: every event is on disk (fsync) before it counts as produced.', {
    dir: str('Directory of the outbox (created if missing).', '/var/lib/smartscope/outbox', { minLength: 1 }),
    maxDiskMiB: num(
      'Disk cap of the outbox; when full, queued thumbnails are dropped first, then the oldest events (counted, with an alarm).',
      512,
      1,
      1_000_000,
      'MiB',
    ),
    segmentKiB: int('Size at which an outbox segment file is closed and a new one started.', 4096, 16, 262_144, 'KiB'),
    inflight: int('QoS 1 messages sent ahead of their acknowledgement while draining.', 64, 1, 1000),
  }),
  statsIntervalS: num('Period of the stats topic (0: off).', 60, 0, 86_400, 's'),
  thumbnails: obj('Defect thumbnails (JPEG) published before their events.', {
    maxSidePx: int('Longest side of a thumbnail.', 256, 32, 2048, 'px'),
    maxBytes: int('Largest thumbnail: quality, then size, is lowered until the JPEG fits.', 65_536, 4096, 4_194_304, 'bytes'),
    quality: int('JPEG quality to start from.', 82, 30, 100),
    marginFactor: num('Crop around the defect box: this many box sizes of context on each side.', 0.5, 0, 5),
    heatmapOpacity: num('Opacity of the model’s probability heatmap over the image (0: no heatmap).', 0.45, 0, 1),
  }),
  commands: obj('Commands on cmd/<name>.', {
    enabled: bool('Subscribe to cmd/+ and answer commands.', true),
    maxPayloadBytes: int('Larger requests are refused with too_large.', 65_536, 256, 1_048_576, 'bytes'),
    timeoutMs: int('A handler that has not answered by then gets a timeout reply.', 30_000, 100, 600_000, 'ms'),
    maxConcurrent: int('Commands handled at the same time; more are refused with busy.', 16, 1, 1000),
    replyTopicPrefix: str(
      'MQTT 5 Response Topics are honoured only under this prefix (and the device’s own reply/); a request naming any other topic is refused, counted, and not run.',
      'mes/replies/',
      { minLength: 2, maxLength: 256, pattern: '^[^$#+\\s/][^#+\\s]*/$' },
    ),
  }),
  sparkplug: obj('Sparkplug B 3.0 edge node, on its own MQTT session next to the JSON topics.', {
    enabled: bool('Run the Sparkplug B edge node.', false),
    groupId: str('Sparkplug group id.', 'smartscope', { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
    edgeNodeId: str('Edge node id (default: <line>-<device>).', undefined, { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
    deviceId: str('Sparkplug device id of the inspection metrics.', 'inspection', { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
    primaryHostId: str('Primary host application id: births wait for its STATE to be online (left out: do not wait).', undefined, {
      pattern: '^[A-Za-z0-9_-]+$',
      minLength: 1,
      maxLength: 64,
    }),
  }),
});

export interface MqttConfig {
  url?: string;
  protocolVersion: 4 | 5;
  clientId?: string;
  topicPrefix: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  username?: string;
  /** Resolved by the config loader from `{ file }` or `{ env }`. */
  password?: Secret;
  tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean; servername?: string };
  outbox: { dir: string; maxDiskMiB: number; segmentKiB: number; inflight: number };
  statsIntervalS: number;
  thumbnails: { maxSidePx: number; maxBytes: number; quality: number; marginFactor: number; heatmapOpacity: number };
  commands: { enabled: boolean; maxPayloadBytes: number; timeoutMs: number; maxConcurrent: number; replyTopicPrefix: string };
  sparkplug: { enabled: boolean; groupId: string; edgeNodeId?: string; deviceId: string; primaryHostId?: string };
}
