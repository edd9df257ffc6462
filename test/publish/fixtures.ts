/**
 * Shared fixtures for the publish tests: full events the way the scan engine will build them, a synthetic confirming
 * image with a defect and its heatmap, a config, and a subscriber that records what the broker delivers.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { parseConfig } from '../../src/config/load.js';
import type { MqttConfig } from '../../src/publish/config.js';
import type { DefectEventInput, ScanEventInput } from '../../src/publish/event-sink.js';
import type { ThumbnailSource } from '../../src/publish/thumbnails.js';

export const device = { site: 'plant7', line: 'lineA', id: 'scope3' };

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The `mqtt` section with defaults, as the config loader produces it. */
export function mqttConfig(overrides: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): MqttConfig & { url: string } {
  return parseConfig({ device, mqtt: { reconnectMinMs: 100, reconnectMaxMs: 400, statsIntervalS: 0, ...overrides } }, 'config', { env }).mqtt as MqttConfig & {
    url: string;
  };
}

export function defectInput(n: number, scanId = 'scan-0001'): DefectEventInput {
  return {
    sampleId: 'S-42',
    lot: 'LOT-2026-11',
    recipe: { id: 'polished-steel', version: '3' },
    scanId,
    defectId: `d${n}`,
    class: ['scratch', 'pit', 'particle', 'crack'][n % 4]!,
    confidence: 0.91,
    sizeUm: 48.2,
    widthUm: 3.1,
    areaUm2: 120.5,
    orientationDeg: -37,
    positionStage: { xUm: 12000.5 + n, yUm: 8000.25 },
    positionSample: { xUm: 2000.5 + n, yUm: 1500.25 },
    bboxSample: { xUm: 1976, yUm: 1480, widthUm: 50, heightUm: 40 },
    survey: { tileIndex: 17, candidateScore: 0.73 },
    stagePose: { xUm: 12000, yUm: 8000, zUm: 152.4 },
    objective: { name: '50x', magnification: 50 },
    focusScore: 0.82,
    calibrationVersion: 'cal-2026-11-20',
    models: { survey: 'survey-unet-1.2.0', zoom: 'zoom-unet-1.1.0' },
    captureTs: '2026-11-25T10:15:30.100Z',
    detectionTs: '2026-11-25T10:15:30.145Z',
  };
}

export const scanStarted: ScanEventInput = {
  phase: 'started',
  scanId: 'scan-0001',
  sampleId: 'S-42',
  lot: 'LOT-2026-11',
  recipe: { id: 'polished-steel', version: '3' },
  models: { survey: 'survey-unet-1.2.0', zoom: 'zoom-unet-1.1.0' },
  calibrationVersion: 'cal-2026-11-20',
  plannedTiles: 64,
  plannedAreaCm2: 1,
};

export const scanProgress: ScanEventInput = {
  phase: 'progress',
  scanId: 'scan-0001',
  sampleId: 'S-42',
  recipe: { id: 'polished-steel', version: '3' },
  stage: 'survey',
  done: 32,
  total: 64,
  fraction: 0.5,
  state: 'running',
  candidates: 9,
  defectsConfirmed: 4,
  elapsedMs: 41_000,
};

export const scanFinished: ScanEventInput = {
  phase: 'finished',
  scanId: 'scan-0001',
  sampleId: 'S-42',
  recipe: { id: 'polished-steel', version: '3' },
  outcome: 'completed',
  startedTs: '2026-11-25T10:14:00.000Z',
  durationMs: 95_000,
  summary: {
    defectsTotal: 7,
    countsByClass: { scratch: 3, pit: 2, particle: 2, crack: 0 },
    inspectedAreaCm2: 1,
    densityPerCm2: { total: 7, byClass: { scratch: 3, pit: 2, particle: 2, crack: 0 } },
    acceptance: { result: 'fail', reasons: [{ criterion: 'maxCount', class: 'scratch', limit: 2, actual: 3, message: '3 scratches exceed the limit of 2' }] },
    instrumentTime: { surveyMs: 30_000, travelMs: 25_000, focusMs: 12_000, captureMs: 8_000, inferenceMs: 20_000, totalMs: 95_000 },
  },
};

/** A 12-bit 512² image with a dark scratch and the model's heatmap around it. */
export function thumbnailSource(): ThumbnailSource {
  const W = 512;
  const data = new Uint16Array(W * W);
  for (let i = 0; i < data.length; i++) data[i] = 1800 + ((i * 2654435761) % 200);
  for (let t = -40; t <= 40; t++) for (let w = -1; w <= 1; w++) data[(256 + Math.round(t * 0.6) + w) * W + 256 + Math.round(t * 0.8)] = 300;
  const hm = new Float32Array(64 * 64);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) hm[y * 64 + x] = Math.max(0, 1 - Math.hypot(x * 8 - 256, y * 8 - 256) / 60);
  return {
    image: { data, width: W, height: W, bitDepth: 12 },
    box: { x: 222, y: 230, width: 68, height: 52 },
    contour: [
      [224, 232],
      [290, 280],
      [286, 284],
      [220, 236],
    ],
    heatmap: { data: hm, width: 64, height: 64 },
  };
}

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
  at: number;
}

/** A plain MQTT client that records everything on `filters`. */
export async function subscriber(
  url: string,
  filters: string[],
  opts: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Received[]; json: (topicEnd: string) => Array<Record<string, unknown>>; close: () => Promise<void> }> {
  // A persistent session in MQTT 5 also needs a session expiry: with the default of 0 it ends with the connection.
  const persistent = opts.clean === false && (opts.protocolVersion ?? 5) === 5 ? { properties: { sessionExpiryInterval: 3600, ...opts.properties } } : {};
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, clean: true, ...opts, ...persistent });
  noDelay(client);
  client.on('connect', () => noDelay(client));
  const messages: Received[] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload, packet, at: performance.now() }));
  await client.subscribeAsync(filters, { qos: 1 });
  return {
    client,
    messages,
    json: (topicEnd) => messages.filter((m) => m.topic.endsWith(topicEnd)).map((m) => JSON.parse(m.payload.toString('utf8')) as Record<string, unknown>),
    close: () => client.endAsync(true),
  };
}

/** Turns off Nagle's algorithm on a connected client (as the sink does), so acknowledgements are not delayed. */
export function noDelay(client: MqttClient): void {
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
}

export async function until(cond: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
