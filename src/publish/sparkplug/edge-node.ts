/**
 * A Sparkplug B 3.0 edge node (Eclipse Sparkplug Specification 3.0.0, chapters 6–8) on its own MQTT session:
 *
 * - NDEATH is the will (QoS 1, not retained) and carries the bdSeq of its CONNECT; bdSeq goes up by one per CONNECT
 *   (0–255, wrapping) and is kept on disk so a restart does not reuse the last session's number.
 * - NBIRTH (QoS 0) has seq 0 and the same bdSeq; every later message of the node (DBIRTH, DDATA, DDEATH) takes the
 *   next seq, 0–255 wrapping.
 * - DBIRTH declares every metric with name and alias; DDATA sends changed metrics by alias. A metric that appears
 *   later (a new defect class) triggers a new DBIRTH.
 * - NCMD `Node Control/Rebirth` = true: NBIRTH and DBIRTH again (seq restarts at 0, bdSeq unchanged).
 * - With a primary host configured, births wait for its retained STATE `{online: true}`; a newer `{online: false}`
 *   makes the node publish NDEATH, disconnect, and connect again later (spec 3.0 §7.x "Primary Host Application").
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../kernel/durable-fs.js';
import type { IClientOptions, MqttClient } from 'mqtt';
import sparkplugPayload from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { Logger } from '../../kernel/logger.js';
import { Connection } from '../mqtt/connection.js';
import type { DefectEvent, DeviceState, ScanEvent } from '../payloads.js';
import { DeviceMetrics, NODE_METRICS } from './metrics.js';

const codec = sparkplugPayload.get('spBv1.0')!;

export interface SparkplugNodeOptions {
  url: string;
  base: IClientOptions;
  clientId: string;
  groupId: string;
  edgeNodeId: string;
  deviceId: string;
  primaryHostId?: string;
  /** File that keeps bdSeq across restarts. */
  bdSeqFile: string;
  softwareVersion: string;
  now: () => number;
  logger: Logger;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export class SparkplugNode {
  private readonly connection: Connection;
  private readonly log: Logger;
  private readonly metrics = new DeviceMetrics();
  private readonly ns: string;
  private bdSeq: number;
  private seq = 0;
  private born = false;
  private hostOnline = false;
  private hostTimestamp = -1;
  private publishTimer: NodeJS.Timeout | null = null;
  readonly counters = { births: 0, deviceBirths: 0, data: 0, rebirthRequests: 0, hostOfflineDisconnects: 0, badCommands: 0 };

  constructor(private readonly opts: SparkplugNodeOptions) {
    this.log = opts.logger.child({ module: 'sparkplug' });
    this.ns = `spBv1.0/${opts.groupId}`;
    this.bdSeq = this.loadBdSeq();
    this.connection = new Connection({
      url: opts.url,
      base: opts.base,
      clientId: opts.clientId,
      will: () => this.nextWill(),
      reconnectMinMs: opts.reconnectMinMs,
      reconnectMaxMs: opts.reconnectMaxMs,
      logger: this.log,
    });
    this.connection.on('up', (client) => this.onUp(client));
    this.connection.on('down', () => {
      this.born = false;
      this.hostOnline = false;
    });
  }

  get topics(): { nbirth: string; ndeath: string; dbirth: string; ddata: string; ddeath: string; ncmd: string; dcmd: string; state?: string } {
    const { edgeNodeId: e, deviceId: d, primaryHostId: h } = this.opts;
    const t = {
      nbirth: `${this.ns}/NBIRTH/${e}`,
      ndeath: `${this.ns}/NDEATH/${e}`,
      dbirth: `${this.ns}/DBIRTH/${e}/${d}`,
      ddata: `${this.ns}/DDATA/${e}/${d}`,
      ddeath: `${this.ns}/DDEATH/${e}/${d}`,
      ncmd: `${this.ns}/NCMD/${e}`,
      dcmd: `${this.ns}/DCMD/${e}/${d}`,
    };
    return h ? { ...t, state: `spBv1.0/STATE/${h}` } : t;
  }

  get online(): boolean {
    return this.born;
  }

  async start(): Promise<void> {
    this.connection.start();
  }

  async stop(): Promise<void> {
    if (this.publishTimer) clearTimeout(this.publishTimer);
    await this.connection.stop(async (client) => {
      if (!this.born) return;
      await client.publishAsync(this.topics.ddeath, this.encode([], true), { qos: 0 });
      await client.publishAsync(this.topics.ndeath, Buffer.from(this.deathPayload()), { qos: 1 });
    });
  }

  state(s: DeviceState): void {
    this.metrics.state(s);
    this.schedulePublish();
  }

  defect(e: DefectEvent): void {
    this.metrics.defect(e);
    this.schedulePublish();
  }

  scan(e: ScanEvent): void {
    this.metrics.scan(e);
    this.schedulePublish();
  }

  /** Coalesces bursts of changes (a defect per few ms) into one DDATA. */
  private schedulePublish(): void {
    if (this.publishTimer || !this.born) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = null;
      this.publishChanges();
    }, 50);
    this.publishTimer.unref();
  }

  private publishChanges(): void {
    const client = this.connection.current;
    if (!client || !this.born) return;
    if (this.metrics.needsBirth) {
      this.deviceBirth(client);
      return;
    }
    const changed = this.metrics.changed(this.opts.now());
    if (changed.length === 0) return;
    client.publish(this.topics.ddata, this.encode(changed, true), { qos: 0 });
    this.counters.data++;
  }

  private nextWill(): IClientOptions['will'] {
    // A new CONNECT: the next bdSeq, stored before it is used so a crash cannot reuse it.
    this.bdSeq = (this.bdSeq + 1) % 256;
    this.saveBdSeq();
    return { topic: this.topics.ndeath, payload: Buffer.from(this.deathPayload()), qos: 1, retain: false };
  }

  private deathPayload(): Uint8Array {
    return codec.encodePayload({ timestamp: this.opts.now(), metrics: [{ name: NODE_METRICS.bdSeq.name, type: 'UInt64', value: this.bdSeq }] });
  }

  private onUp(client: MqttClient): void {
    const t = this.topics;
    client.on('message', (topic, payload) => {
      if (this.connection.current !== client) return;
      try {
        if (topic === t.state) this.onHostState(client, payload);
        else if (topic === t.ncmd) this.onNodeCommand(client, payload);
        else if (topic === t.dcmd) this.log.info({ topic }, 'device command ignored: the inspection device has no writable metrics');
      } catch (err) {
        this.counters.badCommands++;
        this.log.warn({ topic, err: (err as Error).message }, 'unreadable Sparkplug message');
      }
    });
    const subs = [t.ncmd, t.dcmd, ...(t.state ? [t.state] : [])];
    client.subscribe(subs, { qos: 1 }, (err) => {
      if (err) {
        this.log.error({ err: err.message }, 'cannot subscribe to Sparkplug commands');
        return;
      }
      if (!this.opts.primaryHostId) this.birth(client);
    });
  }

  private onHostState(client: MqttClient, payload: Buffer): void {
    const msg = JSON.parse(payload.toString('utf8')) as { online?: unknown; timestamp?: unknown };
    if (typeof msg.online !== 'boolean' || typeof msg.timestamp !== 'number') throw new Error('STATE payload needs online (boolean) and timestamp (number)');
    // Only a newer STATE counts: an old retained one must not override what the host said since.
    if (msg.timestamp < this.hostTimestamp) return;
    this.hostTimestamp = msg.timestamp;
    this.hostOnline = msg.online;
    if (msg.online && !this.born) this.birth(client);
    else if (!msg.online && this.born) {
      this.counters.hostOfflineDisconnects++;
      this.log.warn({ host: this.opts.primaryHostId }, 'primary host went offline: NDEATH and reconnect');
      void this.connection.recycle(async (c) => {
        await c.publishAsync(this.topics.ndeath, Buffer.from(this.deathPayload()), { qos: 1 });
      });
    }
  }

  private onNodeCommand(client: MqttClient, payload: Buffer): void {
    const decoded = codec.decodePayload(payload);
    for (const m of decoded.metrics ?? []) {
      const alias = m.alias === undefined || m.alias === null ? undefined : Number(m.alias);
      if ((m.name === NODE_METRICS.rebirth.name || alias === NODE_METRICS.rebirth.alias) && m.value === true) {
        this.counters.rebirthRequests++;
        this.log.info('rebirth requested');
        if (!this.opts.primaryHostId || this.hostOnline) this.birth(client);
      }
    }
  }

  private birth(client: MqttClient): void {
    this.seq = 0;
    const now = this.opts.now();
    const node: UMetric[] = [
      { name: NODE_METRICS.bdSeq.name, type: 'UInt64', value: this.bdSeq, timestamp: now },
      { name: NODE_METRICS.rebirth.name, alias: NODE_METRICS.rebirth.alias, type: 'Boolean', value: false, timestamp: now },
      { name: NODE_METRICS.softwareVersion.name, alias: NODE_METRICS.softwareVersion.alias, type: 'String', value: this.opts.softwareVersion, timestamp: now },
    ];
    client.publish(this.topics.nbirth, Buffer.from(codec.encodePayload({ timestamp: now, metrics: node, seq: 0 })), { qos: 0 });
    this.born = true;
    this.counters.births++;
    this.deviceBirth(client);
  }

  private deviceBirth(client: MqttClient): void {
    const now = this.opts.now();
    client.publish(this.topics.dbirth, this.encode(this.metrics.all(now), true), { qos: 0 });
    this.counters.deviceBirths++;
  }

  /** A node message with the next seq. */
  private encode(metrics: UMetric[], withSeq: boolean): Buffer {
    const p: UPayload = { timestamp: this.opts.now(), metrics };
    if (withSeq) {
      this.seq = (this.seq + 1) % 256;
      p.seq = this.seq;
    }
    return Buffer.from(codec.encodePayload(p));
  }

  private loadBdSeq(): number {
    try {
      const v = Number(readFileSync(this.opts.bdSeqFile, 'utf8').trim());
      return Number.isInteger(v) && v >= 0 && v <= 255 ? v : 255;
    } catch {
      // First start: the first CONNECT then uses bdSeq 0.
      return 255;
    }
  }

  private saveBdSeq(): void {
    try {
      mkdirSync(dirname(this.opts.bdSeqFile), { recursive: true });
      // Durable (fsync, rename, fsync the folder): after a power cut the next session still counts on from it.
      writeFileAtomic(this.opts.bdSeqFile, `${this.bdSeq}\n`);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, file: this.opts.bdSeqFile }, 'cannot keep bdSeq on disk');
    }
  }
}
