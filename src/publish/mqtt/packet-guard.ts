/**
 * The size of every MQTT packet the broker sends us, checked from its fixed header before the packet is read: the
 * client library buffers a whole packet before it parses it, so a 268 MB command would otherwise sit in memory
 * before anyone could refuse it. The connection is closed at the header of a packet over the limit (the session is
 * clean: the broker drops the message) and the caller counts it; the Connection reconnects as after any loss.
 *
 * With MQTT 5 the limit is also announced in CONNECT (Maximum Packet Size), so a conforming broker never sends such a
 * packet; the guard covers MQTT 3.1.1 brokers, which have no way to be told.
 */
import type { Readable } from 'node:stream';

/** Finds packet boundaries in the raw byte stream (fixed header: type byte, Remaining Length varint, body). */
export class PacketSizeScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private skip = 0;

  constructor(private readonly maxBytes: number) {}

  /** Scans a chunk; returns the first packet over the limit (or malformed) it finds the header of, else null. */
  feed(chunk: Buffer): { packetType: number; bytes: number; malformed?: boolean } | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0) this.state = 'type';
        continue;
      }
      const b = chunk[i++]!;
      if (this.state === 'type') {
        this.type = b >> 4;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      // Remaining Length: up to 4 bytes, 7 bits each, high bit = more.
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (b & 0x80) {
        if (this.lengthBytes >= 4) return { packetType: this.type, bytes: this.length, malformed: true };
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxBytes) return { packetType: this.type, bytes: total };
      this.skip = this.length;
      this.state = this.skip > 0 ? 'body' : 'type';
    }
    return null;
  }
}

/**
 * Installs the check on a connected client's socket (before any data arrives): bytes pass through unchanged until a
 * packet header announces more than `maxBytes`; then the socket is destroyed and `onOversize` told.
 */
export function guardPacketSize(stream: Readable, maxBytes: number, onOversize: (p: { packetType: number; bytes: number; malformed?: boolean }) => void): void {
  const scanner = new PacketSizeScanner(maxBytes);
  const push = stream.push.bind(stream);
  let tripped = false;
  stream.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (tripped) return false;
    if (chunk !== null && Buffer.isBuffer(chunk)) {
      const over = scanner.feed(chunk);
      if (over) {
        tripped = true;
        onOversize(over);
        stream.destroy(new Error(`the broker sent a packet of ${over.bytes} bytes; the limit is ${maxBytes} bytes`));
        return false;
      }
    }
    return push(chunk, encoding);
  };
}

/** The largest packet this device accepts: a command at `mqtt.commands.maxPayloadBytes` plus its topic and properties. */
export function maxIncomingPacketBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + 8192;
}
