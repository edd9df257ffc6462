/**
 * The hostile MES client of bench:mqtt, in its own process so that its buffers (1 MB and 20 MB requests) do not count
 * in the device's memory: `node hostile-client.js URL TOPIC_BASE COUNT` publishes COUNT requests of every hostile
 * kind, QoS 1, one after another, and prints {sent, oversize} as JSON.
 */
import mqtt from 'mqtt';

async function main(): Promise<void> {
  const [url, base, countArg] = process.argv.slice(2);
  const count = Number(countArg);
  const mes = await mqtt.connectAsync(url!, { protocolVersion: 5 });
  const mb = Buffer.alloc(1 << 20, 0x20);
  const huge = Buffer.alloc(20 << 20, 0x20);
  const kinds: Array<(i: number) => [string, string | Buffer, Record<string, unknown>]> = [
    () => [`${base}/cmd/abort-scan`, JSON.stringify({ scanId: 42 }), {}],
    () => [`${base}/cmd/pause-scan`, JSON.stringify({ scanId: 'scan-does-not-exist' }), {}],
    () => [`${base}/cmd/self-destruct`, '{}', {}],
    () => [`${base}/cmd/request-status`, '{"a":', {}],
    () => [`${base}/cmd/enqueue-sample`, JSON.stringify({ sampleId: ['x'], recipe: 7 }), {}],
    () => [`${base}/cmd/request-status`, '{}', { responseTopic: `${base}/events/defect` }],
    () => [`${base}/cmd/request-status`, '{}', { responseTopic: 'spBv1.0/smartscope/NDEATH/lineA-scope3' }],
    (i) =>
      i % 100 === 7
        ? [`${base}/cmd/request-status`, i % 5000 === 7 ? huge : mb, {}]
        : [`${base}/cmd/resume-scan`, JSON.stringify({ scanId: 'x'.repeat(500) }), {}],
  ];
  let oversize = 0;
  for (let i = 0; i < count; i++) {
    const [topic, payload, props] = kinds[i % kinds.length]!(i);
    if (Buffer.isBuffer(payload)) oversize++;
    await mes.publishAsync(topic, payload, { qos: 1, properties: { ...props } });
  }
  await mes.endAsync();
  process.stdout.write(`${JSON.stringify({ sent: count, oversize })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`hostile client failed: ${err.message}\n`);
  process.exit(1);
});
