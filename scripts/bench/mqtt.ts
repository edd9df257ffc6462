/**
 * bench:mqtt — the MQTT event path against a real mosquitto on a loopback port (Debian package `mosquitto`).
 *
 * 1. Baseline: raw mqtt.js QoS 1 publishes of the same defect JSON, 64 unacknowledged at most, like the sink's
 *    window (no outbox, no fsync, no thumbnail).
 * 2. Sustained: defect events with sharp thumbnails rendered from a 12-bit 512² frame, through the durable outbox.
 * 3. Latency: 40 events/s for 10 s; capture (the call into the sink, thumbnail rendering included) → the subscriber
 *    has the event, p50/p99.
 * 4. Replay: broker stopped, the outbox fills with events and thumbnails, broker started: rate of the drain.
 * 5. Hostile commands: 10 000 requests of every hostile kind (wrong scan, wrong types, bad JSON, unknown commands,
 *    reply-topic abuse, 1 MB and 20 MB oversize ones the broker is told not to send) against the baseline of valid
 *    request-status round trips; replies per second, and the process's RSS growth across them.
 * 6. State lag: status transitions through the device state machine, from the state() call to the retained status
 *    at a subscriber, p99.
 * Prints one JSON object as its last line.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { renderThumbnail } from '../../src/publish/thumbnails.js';
import { startMosquitto } from '../../test/support/mosquitto.js';
import { defectInput, device, mqttConfig, noDelay, subscriber, tempDir, thumbnailSource, until } from '../../test/publish/fixtures.js';

const SUSTAINED = Number(process.env.BENCH_MQTT_EVENTS ?? 1500);
const REPLAY = Number(process.env.BENCH_MQTT_REPLAY ?? 3000);
const LATENCY_RATE = 40;
const LATENCY_SECONDS = 10;
const CONCURRENCY = 8;
const WINDOW = 64;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const r1 = (x: number): number => Math.round(x * 10) / 10;
const log = (msg: string): void => {
  process.stderr.write(`bench:mqtt ${msg}\n`);
};

async function main(): Promise<void> {
  // Persistence and a persistent subscriber session: what the sink replays right after the broker restarts must
  // wait for the subscriber instead of racing its re-subscription.
  const broker = await startMosquitto({ persistence: true });
  const base = `smartscope/${device.site}/${device.line}/${device.id}`;
  const dir = tempDir('bench-mqtt-');
  const sub = await subscriber(broker.url, [`${base}/events/defect`, `${base}/thumbnails/+`], { clean: false, clientId: 'bench-mes' });
  const arrived = new Map<string, number>();
  sub.client.on('message', (topic, payload) => {
    if (!topic.endsWith('/events/defect')) return;
    const id = (JSON.parse(payload.toString('utf8')) as { eventId: string }).eventId;
    if (!arrived.has(id)) arrived.set(id, performance.now());
  });
  const produced = new Set<string>();
  const src = thumbnailSource();

  // 1. Baseline: raw QoS 1 publishes with the sink's window (64 unacknowledged), Nagle off like the sink.
  const raw = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  noDelay(raw);
  const body = JSON.stringify({ ...defectInput(1), eventId: '0', ts: new Date().toISOString() });
  let t = performance.now();
  await new Promise<void>((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const pump = (): void => {
      while (sent < SUSTAINED && sent - acked < WINDOW) {
        sent++;
        raw.publish(`${base}/raw`, body, { qos: 1 }, (err) => {
          if (err) return reject(err);
          if (++acked === SUSTAINED) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const rawPerSec = SUSTAINED / ((performance.now() - t) / 1000);
  await raw.endAsync();
  log(`raw publish ${r1(rawPerSec)}/s`);

  // Thumbnail rendering alone (sharp), for the split.
  t = performance.now();
  for (let i = 0; i < 100; i++) await renderThumbnail(src);
  const renderPerSec = 100 / ((performance.now() - t) / 1000);
  log(`thumbnail render ${r1(renderPerSec)}/s`);

  const sink = await MqttEventSink.open({
    config: mqttConfig({ url: broker.url, outbox: { dir } }),
    device,
    clock: new RealClock(),
    logger: silentLogger(),
    store: new FileStore({ dir, capBytes: 1 << 30 }),
    softwareVersion: 'bench',
  });
  await until(() => sink.health().connected, 10_000, 'connection');

  // 2. Sustained, with thumbnails.
  const sustainedIds: string[] = [];
  t = performance.now();
  let n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (n < SUSTAINED) {
        const e = await sink.defect(defectInput(n++), src);
        produced.add(e.eventId);
        sustainedIds.push(e.eventId);
      }
    }),
  );
  await until(() => sustainedIds.every((id) => arrived.has(id)), 120_000, 'sustained events');
  const sustainedEnd = Math.max(...sustainedIds.map((id) => arrived.get(id)!));
  const eventsPerSec = SUSTAINED / ((sustainedEnd - t) / 1000);
  log(`sustained with thumbnails ${r1(eventsPerSec)}/s`);

  // Same without thumbnails: the outbox + MQTT path alone.
  const plainIds: string[] = [];
  t = performance.now();
  n = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (n < SUSTAINED) {
        const e = await sink.defect(defectInput(n++));
        produced.add(e.eventId);
        plainIds.push(e.eventId);
      }
    }),
  );
  await until(() => plainIds.every((id) => arrived.has(id)), 120_000, 'plain events');
  const plainPerSec = SUSTAINED / ((Math.max(...plainIds.map((id) => arrived.get(id)!)) - t) / 1000);
  log(`sustained without thumbnails ${r1(plainPerSec)}/s`);

  // 3. Latency at a steady rate.
  const started = new Map<string, number>();
  const durableAt = new Map<string, number>();
  const total = LATENCY_RATE * LATENCY_SECONDS;
  const t0 = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / LATENCY_RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const capture = performance.now();
    pending.push(
      sink.defect(defectInput(i), src).then((e) => {
        produced.add(e.eventId);
        started.set(e.eventId, capture);
        durableAt.set(e.eventId, performance.now());
      }),
    );
  }
  await Promise.all(pending);
  await until(() => [...started.keys()].every((id) => arrived.has(id)), 60_000, 'latency events');
  const latencies = [...started].map(([id, c]) => arrived.get(id)! - c);
  const toDurable = [...started].map(([id, c]) => durableAt.get(id)! - c);
  const durableToReceived = [...started].map(([id]) => Math.max(0, arrived.get(id)! - durableAt.get(id)!));
  log(`latency p50 ${r1(pct(latencies, 50))} ms, p99 ${r1(pct(latencies, 99))} ms`);

  // 4. Replay after an outage.
  await broker.stop();
  await until(() => !sink.health().connected, 10_000, 'outage noticed');
  const jpeg = (await renderThumbnail(src)).jpeg;
  const replayIds: string[] = [];
  for (let i = 0; i < REPLAY; i++) {
    const image = i % 2 === 0 ? { jpeg: Buffer.concat([jpeg, Buffer.from(String(i))]), widthPx: 256, heightPx: 256 } : undefined;
    const e = await sink.defect(defectInput(i), image);
    produced.add(e.eventId);
    replayIds.push(e.eventId);
  }
  const backlog = sink.health().pendingEvents;
  await broker.restart();
  await until(() => sink.health().connected, 30_000, 'reconnection');
  t = performance.now();
  await until(() => replayIds.every((id) => arrived.has(id)), 120_000, 'replayed events');
  const replayEnd = Math.max(...replayIds.map((id) => arrived.get(id)!));
  const replayEventsPerSec = REPLAY / ((replayEnd - t) / 1000);
  log(`replay of ${backlog} queued events (half with thumbnails) ${r1(replayEventsPerSec)}/s`);

  // 5. Hostile commands, against valid ones measured first.
  sink.onCommand('pause-scan', (p) => {
    throw new Error(`scan "${p.scanId ?? '?'}" is not the running scan`);
  });
  sink.onCommand('abort-scan', () => {
    throw new Error('no scan is running');
  });
  const replies = await subscriber(broker.url, [`${base}/reply/#`, 'mes/replies/#']);
  const mes = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
  noDelay(mes);
  const VALID = 2000;
  t = performance.now();
  for (let i = 0; i < VALID; i++)
    void mes.publishAsync(`${base}/cmd/request-status`, '{}', {
      qos: 1,
      properties: { responseTopic: 'mes/replies/bench', correlationData: Buffer.from(String(i)) },
    });
  await until(() => replies.messages.length >= VALID, 120_000, 'valid command replies');
  const validCommandsPerSec = VALID / ((performance.now() - t) / 1000);
  log(`valid commands ${r1(validCommandsPerSec)}/s`);
  const HOSTILE = 10_000;
  const before = replies.messages.length;
  const rssBefore = process.memoryUsage().rss;
  t = performance.now();
  // The hostile client runs in its own process: its 1 MB and 20 MB requests are not the device's memory.
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./hostile-client.js', import.meta.url)), broker.url, base, String(HOSTILE)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`hostile client exited with ${code}`))));
  });
  const { oversize } = JSON.parse(out.trim().split('\n').at(-1)!) as { oversize: number };
  const expected = HOSTILE - oversize;
  await until(() => replies.messages.length - before >= expected, 180_000, 'hostile command replies');
  const hostileCommandsPerSec = expected / ((performance.now() - t) / 1000);
  replies.messages.length = 0;
  const hostileRssGrowthMb = (process.memoryUsage().rss - rssBefore) / (1 << 20);
  const cmdCounters = sink.counters().commands;
  log(
    `hostile commands ${r1(hostileCommandsPerSec)}/s (${oversize} oversize never delivered), RSS growth ${r1(hostileRssGrowthMb)} MB, refused reply topics ${cmdCounters.replyTopicRefused}`,
  );
  await mes.endAsync();
  await replies.close();

  // 6. State lag: call → retained status at a subscriber.
  const status = await subscriber(broker.url, [`${base}/status`]);
  await until(() => status.messages.length > 0, 10_000, 'retained status');
  const cycle = ['idle', 'scanning', 'paused', 'scanning', 'aborting', 'idle'] as const;
  const lags: number[] = [];
  for (let k = 0; k < 50; k++) {
    for (const st of cycle) {
      const n0 = status.messages.length;
      const at = performance.now();
      await sink.state({ state: st, ...(st === 'idle' ? {} : { scanId: `scan-${k}` }) });
      await until(() => status.messages.length > n0, 10_000, `status ${st}`);
      lags.push(status.messages[n0]!.at - at);
    }
  }
  await status.close();
  log(`state lag p50 ${r1(pct(lags, 50))} ms, p99 ${r1(pct(lags, 99))} ms`);

  const lost = [...produced].filter((id) => !arrived.has(id)).length;
  const health = sink.health();
  await sink.close();
  await sub.close();
  await broker.close();
  rmSync(dir, { recursive: true, force: true });

  const result = {
    eventsPerSec: r1(eventsPerSec),
    latencyMsP50: r1(pct(latencies, 50)),
    latencyMsP99: r1(pct(latencies, 99)),
    replayEventsPerSec: r1(replayEventsPerSec),
    lost,
    eventsPerSecWithoutThumbnail: r1(plainPerSec),
    baselineRawPublishPerSec: r1(rawPerSec),
    ratioSustainedToRawPublish: Math.round((eventsPerSec / rawPerSec) * 1000) / 1000,
    ratioWithoutThumbnailToRawPublish: Math.round((plainPerSec / rawPerSec) * 1000) / 1000,
    thumbnailRenderPerSec: r1(renderPerSec),
    latencyRatePerSec: LATENCY_RATE,
    latencyMsP50CallToDurable: r1(pct(toDurable, 50)),
    latencyMsP99CallToDurable: r1(pct(toDurable, 99)),
    latencyMsP50DurableToReceived: r1(pct(durableToReceived, 50)),
    latencyMsP99DurableToReceived: r1(pct(durableToReceived, 99)),
    replayBacklogEvents: backlog,
    eventsLostByOutbox: health.eventsLost,
    events: produced.size,
    validCommandsPerSec: r1(validCommandsPerSec),
    hostileCommandsPerSec: r1(hostileCommandsPerSec),
    ratioHostileToValidCommands: Math.round((hostileCommandsPerSec / validCommandsPerSec) * 1000) / 1000,
    hostileCommands: HOSTILE,
    hostileOversizeCommands: oversize,
    hostileRssGrowthMb: r1(hostileRssGrowthMb),
    replyTopicsRefused: cmdCounters.replyTopicRefused,
    stateLagMsP50: r1(pct(lags, 50)),
    stateLagMsP99: r1(pct(lags, 99)),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`bench:mqtt failed: ${err.stack ?? err.message}\n`);
  // The broker started by the benchmark is killed by its exit hook (test/support/mosquitto.ts).
  process.exit(1);
});
