/**
 * One outbox record per line in a segment file:
 *
 *     <crc32, 8 hex> <seq> <topic> <blob ids, comma-separated, or -> <JSON payload>\n
 *
 * The CRC-32 covers everything after the first space up to (not including) the newline, so a torn or rotted line is
 * recognised on recovery. Topics and ids never contain spaces (checked on append) and JSON text never contains a raw
 * newline.
 */
import { crc32 } from 'node:zlib';
import type { StoredRecord } from './store.js';

export function encodeRecord(r: StoredRecord): Buffer {
  const body = `${r.seq} ${r.topic} ${r.blobs.length > 0 ? r.blobs.join(',') : '-'} ${r.payload}`;
  const crc = crc32(body).toString(16).padStart(8, '0');
  return Buffer.from(`${crc} ${body}\n`, 'utf8');
}

/** Decodes one line (without its newline); undefined when the checksum or the layout is wrong. */
export function decodeRecord(line: Buffer): StoredRecord | undefined {
  if (line.length < 16 || line[8] !== 0x20) return undefined;
  const body = line.subarray(9);
  const want = Number.parseInt(line.subarray(0, 8).toString('latin1'), 16);
  if (!Number.isFinite(want) || crc32(body) !== want) return undefined;
  const text = body.toString('utf8');
  const a = text.indexOf(' ');
  const b = text.indexOf(' ', a + 1);
  const c = text.indexOf(' ', b + 1);
  if (a <= 0 || b <= a || c <= b) return undefined;
  const seq = Number(text.slice(0, a));
  if (!Number.isSafeInteger(seq) || seq <= 0) return undefined;
  const blobs = text.slice(b + 1, c);
  return { seq, topic: text.slice(a + 1, b), blobs: blobs === '-' ? [] : blobs.split(','), payload: text.slice(c + 1) };
}

export interface ScannedLine {
  record: StoredRecord | undefined;
  offset: number;
  /** Bytes including the newline. */
  length: number;
  /** False for a last line without its newline (a torn write). */
  complete: boolean;
}

/** Splits a segment's bytes into lines. */
export function* scanLines(buf: Buffer, base = 0): Generator<ScannedLine> {
  let start = 0;
  while (start < buf.length) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) {
      yield { record: undefined, offset: base + start, length: buf.length - start, complete: false };
      return;
    }
    yield { record: decodeRecord(buf.subarray(start, nl)), offset: base + start, length: nl + 1 - start, complete: true };
    start = nl + 1;
  }
}
