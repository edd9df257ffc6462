/**
 * Two connected in-process streams, like the two ends of a null-modem cable. Bytes are delivered on a later turn of
 * the event loop (as a real port would), never inside the writer's call. Destroying either end closes both, which is
 * how the twin pulls the cable.
 */
import { Duplex } from 'node:stream';

class End extends Duplex {
  other: End | null = null;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const other = this.other;
    setImmediate(() => {
      if (other && !other.destroyed) other.push(chunk);
    });
    cb();
  }

  override _read(): void {
    // Data is pushed by the other end.
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const other = this.other;
    this.other = null;
    if (other && !other.destroyed) setImmediate(() => other.destroy());
    cb(err);
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
