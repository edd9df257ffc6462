/**
 * A producer process for the kill -9 test: `produce` appends defect events at about 60/s and prints
 * `durable <n> <eventId>` as each append resolves; `drain` only delivers what the outbox still holds, then exits.
 * Usage: node --import tsx producer-child.ts <produce|drain> <brokerUrl> <outboxDir>
 */
import { RealClock } from '../../src/kernel/clock.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { MqttEventSink } from '../../src/publish/mqtt/mqtt-sink.js';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { defectInput, device, mqttConfig } from './fixtures.js';

const [mode, url, dir] = process.argv.slice(2) as [string, string, string];
const sink = await MqttEventSink.open({
  config: mqttConfig({ url, outbox: { dir } }),
  device,
  clock: new RealClock(),
  logger: silentLogger(),
  store: new FileStore({ dir, capBytes: 64 << 20 }),
  softwareVersion: '0.1.0',
});
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, ...Array.from({ length: 3000 }, (_, i) => i & 255), 0xff, 0xd9]);

if (mode === 'produce') {
  process.stdout.write('ready\n');
  for (let n = 0; ; n++) {
    const image = n % 3 === 0 ? { jpeg: Buffer.concat([jpeg, Buffer.from(String(n))]), widthPx: 64, heightPx: 64 } : undefined;
    const e = await sink.defect(defectInput(n), image);
    process.stdout.write(`durable ${n} ${e.eventId}\n`);
    await new Promise((r) => setTimeout(r, 16));
  }
} else {
  const ok = await sink.drained(30_000);
  process.stdout.write(`drained ${ok} pending ${sink.health().pendingEvents}\n`);
  await sink.close();
  process.exit(0);
}
