/**
 * NumPy .npy files (format 1.0–3.0, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), the
 * golden-set format: training scripts write them with `np.save`, the installer reads them here. Only little-endian
 * float32 and uint8 arrays in C order are accepted; anything else is refused with the reason.
 */
export interface NpyArray {
  dtype: 'float32' | 'uint8';
  shape: number[];
  data: Float32Array | Uint8Array;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // "\x93NUMPY"

export function parseNpy(buf: Buffer, name = 'array'): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error(`${name}: not a .npy file (bad magic)`);
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${name}: malformed .npy header`);
  if (fortran === 'True') throw new Error(`${name}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + headerLen);
  if (descr === '<f4') {
    if (body.length < count * 4) throw new Error(`${name}: truncated (${body.length} bytes for ${count} float32 values)`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = body.readFloatLE(i * 4);
    return { dtype: 'float32', shape, data };
  }
  if (descr === '|u1' || descr === '<u1') {
    if (body.length < count) throw new Error(`${name}: truncated (${body.length} bytes for ${count} uint8 values)`);
    return { dtype: 'uint8', shape, data: new Uint8Array(body.subarray(0, count)) };
  }
  throw new Error(`${name}: dtype ${descr} is not supported (use little-endian float32 "<f4" or uint8)`);
}

export function formatNpy(arr: NpyArray): Buffer {
  const descr = arr.dtype === 'float32' ? '<f4' : '|u1';
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Header padded with spaces and a newline so the data starts on a 64-byte boundary.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  MAGIC.copy(head);
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}
