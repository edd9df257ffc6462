/**
 * Writes a minimal uncompressed baseline TIFF (one strip, little-endian) with 8- or 16-bit samples, 1–4 channels.
 * Tests use it to build fixtures in exactly the layouts real datasets use (e.g. 16-bit RGBA masks), independent of
 * the image library under test.
 */
import { writeFileSync } from 'node:fs';

export function writeTiff(path: string, width: number, height: number, channels: 1 | 3 | 4, bits: 8 | 16, samples: ArrayLike<number>): void {
  const bps = bits / 8;
  const dataLen = width * height * channels * bps;
  const entries: Array<[number, number, number, number | number[]]> = [];
  // tag, type (3 SHORT, 4 LONG), count, value(s)
  const bitsPerSample = Array(channels).fill(bits) as number[];
  entries.push([256, 4, 1, width]);
  entries.push([257, 4, 1, height]);
  entries.push([258, 3, channels, channels === 1 ? bits : bitsPerSample]);
  entries.push([259, 3, 1, 1]);
  entries.push([262, 3, 1, channels === 1 ? 1 : 2]);
  entries.push([273, 4, 1, 0]); // strip offset, patched below
  entries.push([277, 3, 1, channels]);
  entries.push([278, 4, 1, height]);
  entries.push([279, 4, 1, dataLen]);
  if (channels === 4) entries.push([338, 3, 1, 2]); // ExtraSamples: unassociated alpha
  const ifdOffset = 8;
  const ifdLen = 2 + entries.length * 12 + 4;
  let extraOffset = ifdOffset + ifdLen;
  const extras: Array<{ offset: number; values: number[]; type: number }> = [];
  for (const e of entries) {
    if (Array.isArray(e[3]) && e[2] * (e[1] === 3 ? 2 : 4) > 4) {
      extras.push({ offset: extraOffset, values: e[3], type: e[1] });
      extraOffset += e[2] * (e[1] === 3 ? 2 : 4);
    }
  }
  const dataOffset = extraOffset;
  const buf = Buffer.alloc(dataOffset + dataLen);
  buf.write('II', 0, 'ascii');
  buf.writeUInt16LE(42, 2);
  buf.writeUInt32LE(ifdOffset, 4);
  buf.writeUInt16LE(entries.length, ifdOffset);
  let p = ifdOffset + 2;
  let extraIndex = 0;
  for (const [tag, type, count, value] of entries) {
    buf.writeUInt16LE(tag, p);
    buf.writeUInt16LE(type, p + 2);
    buf.writeUInt32LE(count, p + 4);
    if (tag === 273) buf.writeUInt32LE(dataOffset, p + 8);
    else if (Array.isArray(value)) {
      if (count * (type === 3 ? 2 : 4) > 4) buf.writeUInt32LE(extras[extraIndex++]!.offset, p + 8);
      else value.forEach((v, i) => buf.writeUInt16LE(v, p + 8 + i * 2));
    } else if (type === 3) buf.writeUInt16LE(value, p + 8);
    else buf.writeUInt32LE(value, p + 8);
    p += 12;
  }
  buf.writeUInt32LE(0, p);
  for (const x of extras) x.values.forEach((v, i) => (x.type === 3 ? buf.writeUInt16LE(v, x.offset + i * 2) : buf.writeUInt32LE(v, x.offset + i * 4)));
  for (let i = 0; i < width * height * channels; i++) {
    if (bits === 8) buf.writeUInt8(samples[i]!, dataOffset + i);
    else buf.writeUInt16LE(samples[i]!, dataOffset + i * 2);
  }
  writeFileSync(path, buf);
}
