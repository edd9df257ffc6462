/**
 * Minimal ustar (POSIX.1-1988) reader and writer for single-file model bundles. Only regular files and directories
 * are accepted; names must be relative and may not climb out with "..". Entries live in memory (bundles are tens of
 * MB), which keeps the installer free of partially extracted trees.
 */
const BLOCK = 512;

export interface TarEntry {
  path: string;
  data: Buffer;
}

function field(h: Buffer, off: number, len: number): string {
  const s = h.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function octal(h: Buffer, off: number, len: number): number {
  const s = field(h, off, len).trim();
  return s === '' ? 0 : parseInt(s, 8);
}

export function readTar(buf: Buffer, name = 'bundle'): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let ended = false;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) {
      ended = true;
      break;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (sum !== octal(h, 148, 8)) throw new Error(`${name}: not a tar archive (header checksum mismatch at byte ${off})`);
    const prefix = field(h, 345, 155);
    const path = (prefix ? `${prefix}/` : '') + field(h, 0, 100);
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 48);
    off += BLOCK;
    if (off + size > buf.length) throw new Error(`${name}: truncated tar archive (${path} needs ${size} bytes)`);
    const data = buf.subarray(off, off + size);
    off += Math.ceil(size / BLOCK) * BLOCK;
    if (type === '5') continue;
    if (type === 'x' || type === 'g') continue; // pax headers (GNU tar adds them for long names/mtimes): the ustar name follows.
    if (type !== '0') throw new Error(`${name}: ${path} is not a regular file (tar type "${type}"); bundles hold plain files only`);
    const clean = path.replace(/^\.\//, '');
    if (clean.startsWith('/') || clean.split('/').includes('..')) throw new Error(`${name}: unsafe path ${JSON.stringify(path)} in the archive`);
    out.push({ path: clean, data: Buffer.from(data) });
  }
  // A copy cut short at an entry boundary still parses: only the end-of-archive block proves it is complete.
  if (!ended) throw new Error(`${name}: truncated tar archive (no end-of-archive marker after ${out.length} files)`);
  return out;
}

export function writeTar(entries: TarEntry[], mtime = new Date(0)): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(BLOCK);
    let name = e.path;
    let prefix = '';
    if (Buffer.byteLength(name) > 100) {
      const cut = name.lastIndexOf('/', name.length - 1);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
      if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`path too long for ustar: ${e.path}`);
    }
    h.write(name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 8, 'ascii');
    h.write('0000000\0', 108, 8, 'ascii');
    h.write('0000000\0', 116, 8, 'ascii');
    h.write(`${e.data.length.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
    h.write(
      `${Math.floor(mtime.getTime() / 1000)
        .toString(8)
        .padStart(11, '0')}\0`,
      136,
      12,
      'ascii',
    );
    h.write('        ', 148, 8, 'ascii');
    h[156] = 48; // '0': regular file
    h.write('ustar\0', 257, 6, 'ascii');
    h.write('00', 263, 2, 'ascii');
    h.write(prefix, 345, 155, 'utf8');
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += h[i]!;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    parts.push(h, e.data, Buffer.alloc((BLOCK - (e.data.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
