/**
 * One logical MQTT session that survives broker outages: a fresh mqtt.js client per attempt (so each CONNECT carries
 * a will computed for it, which Sparkplug's bdSeq needs), exponential back-off between attempts, and events for the
 * owner: `up` with the connected client, `down` when it is lost. The owner never touches a client after `down`.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../../kernel/logger.js';
import { withTimeout } from '../../kernel/timeout.js';
import { guardPacketSize } from './packet-guard.js';

export interface ConnectionOptions {
  url: string;
  /** Shared options (client-options.ts); `clientId` and `will` come from here and `will()`. */
  base: IClientOptions;
  clientId: string;
  /** The will for the next CONNECT (called once per attempt). */
  will?: () => IClientOptions['will'];
  reconnectMinMs: number;
  reconnectMaxMs: number;
  logger: Logger;
  /** Packets from the broker larger than this close the connection at their header, before they are read. */
  maxIncomingPacketBytes?: number;
}

export interface ConnectionCounters {
  connects: number;
  disconnects: number;
  failedAttempts: number;
  /** Connections closed because the broker sent a packet over maxIncomingPacketBytes. */
  oversizeDropped: number;
}

// Typed events: the interface adds the overloads of `on` to the class (declaration merging, on purpose).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Connection {
  on(event: 'up', fn: (client: MqttClient, connack: IConnackPacket) => void): this;
  on(event: 'down', fn: (reason: string) => void): this;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Connection extends EventEmitter {
  private client: MqttClient | null = null;
  private live: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private delay: number;
  private stopped = true;
  private lastError = '';
  readonly counters: ConnectionCounters = { connects: 0, disconnects: 0, failedAttempts: 0, oversizeDropped: 0 };

  constructor(private readonly opts: ConnectionOptions) {
    super();
    this.delay = opts.reconnectMinMs;
  }

  /** The connected client, or null. */
  get current(): MqttClient | null {
    return this.live;
  }

  get connected(): boolean {
    return this.live !== null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt();
  }

  /**
   * Ends the session. `goodbye` runs first on a connected client (publish a last status, an NDEATH); the end is
   * clean (DISCONNECT), so the broker does not publish the will.
   */
  async stop(goodbye?: (client: MqttClient) => Promise<void>, timeoutMs = 3000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const c = this.client;
    this.client = null;
    const wasLive = this.live === c && c !== null;
    this.live = null;
    if (!c) return;
    if (wasLive && goodbye) {
      await withTimeout(goodbye(c), timeoutMs, 'the broker (last messages)').catch((err: Error) =>
        this.opts.logger.warn({ err: err.message }, 'last messages before disconnect failed'),
      );
    }
    await withTimeout(c.endAsync(!wasLive), timeoutMs, 'the broker (disconnect)').catch(() => c.end(true));
    if (wasLive) this.emit('down', 'stopped');
  }

  /** Ends the current connection cleanly (after `goodbye`) and connects again after the back-off. */
  async recycle(goodbye?: (client: MqttClient) => Promise<void>, timeoutMs = 3000): Promise<void> {
    const c = this.live;
    if (!c || this.stopped) return;
    this.client = null;
    this.live = null;
    if (goodbye)
      await withTimeout(goodbye(c), timeoutMs, 'the broker (last messages)').catch((err: Error) =>
        this.opts.logger.warn({ err: err.message }, 'last messages before disconnect failed'),
      );
    await withTimeout(c.endAsync(), timeoutMs, 'the broker (disconnect)').catch(() => c.end(true));
    this.counters.disconnects++;
    this.emit('down', 'recycled');
    this.schedule();
  }

  private attempt(): void {
    if (this.stopped) return;
    const will = this.opts.will?.();
    const options: IClientOptions = { ...this.opts.base, clientId: this.opts.clientId, reconnectPeriod: 0 };
    if (will) options.will = will;
    const c = mqtt.connect(this.opts.url, options);
    this.client = c;
    const limit = this.opts.maxIncomingPacketBytes;
    // The socket exists as soon as connect() returns; no byte has been read from it yet.
    if (limit && c.stream) {
      guardPacketSize(c.stream, limit, (p) => {
        this.counters.oversizeDropped++;
        this.opts.logger.warn(
          { url: this.opts.url, bytes: p.bytes, limit, packetType: p.packetType, malformed: p.malformed ?? false },
          'the broker sent a packet over the size limit: closed the connection before reading it',
        );
      });
    }
    let up = false;
    c.on('connect', (connack) => {
      if (this.client !== c) return;
      // Small QoS 1 messages and their acknowledgements would otherwise wait on Nagle's algorithm and the peer's
      // delayed ACK (up to 40 ms each way on Linux).
      (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      up = true;
      this.live = c;
      this.delay = this.opts.reconnectMinMs;
      this.counters.connects++;
      this.opts.logger.info({ url: this.opts.url, clientId: this.opts.clientId, protocolVersion: this.opts.base.protocolVersion }, 'connected to broker');
      this.lastError = '';
      this.emit('up', c, connack);
    });
    c.on('error', (err) => {
      const msg = err.message;
      // One line per distinct problem, not one per attempt while the broker stays unreachable.
      if (msg !== this.lastError) this.opts.logger.warn({ url: this.opts.url, err: msg }, 'broker connection error');
      this.lastError = msg;
    });
    c.on('close', () => {
      if (this.client !== c) return;
      this.client = null;
      c.removeAllListeners('connect');
      c.end(true);
      if (up) {
        this.live = null;
        this.counters.disconnects++;
        this.opts.logger.warn({ url: this.opts.url }, 'lost the broker connection; reconnecting');
        this.emit('down', 'connection lost');
      } else {
        this.counters.failedAttempts++;
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    // Jitter keeps a line of microscopes from reconnecting in lockstep after a broker restart.
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(this.opts.reconnectMaxMs, this.delay * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.attempt();
    }, wait);
  }
}
