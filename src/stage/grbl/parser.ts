/**
 * GRBL 1.1 parser: bytes → frames. A Transform (bytes in, objects out) so it sits in a pipe behind the serial port.
 * Message classes after the GRBL 1.1 interface description
 * (https://github.com/gnea/grbl/blob/master/doc/markdown/interface.md): `ok`, `error:N`, `ALARM:N`, `<…>` status
 * reports, the `Grbl X.Xx ['$' for help]` banner, `[TAG:…]` feedback, `$N=value` settings and `>line:ok` startup lines.
 * The family's own banners are startup banners too: grblHAL `GrblHAL 1.1f ['$' or '$HELP' for help]`, FluidNC
 * `Grbl 3.7 [FluidNC v3.7.8 (wifi) '$' for help]`, Grbl_ESP32 `Grbl 1.3a ['$' for help]`; so are grblHAL's tags with
 * spaces (`[NVS STORAGE:…]`, `[DRIVER VERSION:…]`) and its `H:` (homed) status field.
 * Lines end in CR LF. Anything else is a 'garbage' frame, counted by the driver.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { LF, CR, LineSplitter, type SplitFrame } from '../ascii/line-splitter.js';

export const GRBL_STATES = ['Idle', 'Run', 'Hold', 'Jog', 'Alarm', 'Door', 'Check', 'Home', 'Sleep'] as const;
export type GrblState = (typeof GRBL_STATES)[number];

export interface GrblStatus {
  state: GrblState;
  /** Hold:0/1, Door:0–3. */
  subState?: number;
  /** Machine position (mm, or inches with $13=1). */
  mpos?: number[];
  /** Work position; MPos = WPos + WCO. */
  wpos?: number[];
  wco?: number[];
  feed?: number;
  spindle?: number;
  /** Free planner blocks and free receive-buffer bytes (`Bf:`). */
  bufferBlocks?: number;
  bufferBytes?: number;
  line?: number;
  /** Triggered input pins (`Pn:`), e.g. "XZ". */
  pins?: string;
  overrides?: number[];
  accessories?: string;
  /** grblHAL `H:1` / `H:0`: homed since power-up (reported when homing is enabled). */
  homed?: boolean;
}

/** Which member of the GRBL family a banner names. */
export type GrblFirmwareName = 'Grbl' | 'grblHAL' | 'FluidNC';

export type GrblFrame =
  | { type: 'ok' }
  | { type: 'error'; code: number }
  | { type: 'alarm'; code: number }
  | { type: 'status'; status: GrblStatus }
  | { type: 'welcome'; version: string; firmware: GrblFirmwareName; text: string }
  | { type: 'message'; tag: string; text: string }
  | { type: 'setting'; key: string; value: string }
  | { type: 'startup'; line: string; result: string }
  | { type: 'garbage'; text: string; reason: 'non-ascii' | 'overlong' | 'unknown' | 'malformed' };

/** Status reports are the longest lines (~120 chars with every field); 256 leaves room and bounds memory. */
export const GRBL_MAX_LINE = 256;

const NUM = /^[-+]?(\d+\.?\d*|\.\d+)$/;

function nums(s: string, min: number, max: number): number[] | null {
  const parts = s.split(',');
  if (parts.length < min || parts.length > max) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!NUM.test(p)) return null;
    out.push(Number(p));
  }
  return out;
}

/** Parses the inside of `<…>`; null when malformed. */
export function parseStatus(body: string): GrblStatus | null {
  const fields = body.split('|');
  const [name, sub, ...rest] = fields[0]!.split(':');
  if (!(GRBL_STATES as readonly string[]).includes(name!) || rest.length > 0) return null;
  const st: GrblStatus = { state: name as GrblState };
  if (sub !== undefined) {
    if (!/^\d$/.test(sub)) return null;
    st.subState = Number(sub);
  }
  for (const f of fields.slice(1)) {
    const i = f.indexOf(':');
    if (i <= 0) return null;
    const key = f.slice(0, i);
    const val = f.slice(i + 1);
    let v: number[] | null;
    switch (key) {
      case 'MPos':
      case 'WPos':
      case 'WCO':
        if (!(v = nums(val, 3, 6))) return null;
        if (key === 'MPos') st.mpos = v;
        else if (key === 'WPos') st.wpos = v;
        else st.wco = v;
        break;
      case 'Bf':
        if (!(v = nums(val, 2, 2)) || !v.every(Number.isInteger)) return null;
        [st.bufferBlocks, st.bufferBytes] = v as [number, number];
        break;
      case 'Ln':
        if (!/^\d+$/.test(val)) return null;
        st.line = Number(val);
        break;
      case 'F':
        if (!(v = nums(val, 1, 1))) return null;
        st.feed = v[0]!;
        break;
      case 'FS':
        if (!(v = nums(val, 2, 2))) return null;
        [st.feed, st.spindle] = v as [number, number];
        break;
      case 'Pn':
        if (!/^[XYZABCPDHRS]+$/.test(val)) return null;
        st.pins = val;
        break;
      case 'Ov':
        if (!(v = nums(val, 3, 3))) return null;
        st.overrides = v;
        break;
      case 'A':
        if (!/^[SCFM]*$/.test(val)) return null;
        st.accessories = val;
        break;
      case 'H':
        // `H:1` or, with single-axis homing, `H:1,<homed axes mask>`.
        if (!/^[01](,\d+)?$/.test(val)) return null;
        st.homed = val[0] === '1';
        break;
      default:
        // Later firmware may add fields; the interface promises any field after the position may or may not exist.
        if (!/^[A-Za-z]+$/.test(key)) return null;
    }
  }
  if (!st.mpos && !st.wpos) return null;
  return st;
}

/** Classifies one line (without its CR LF). */
export function parseGrblLine(text: string): GrblFrame {
  if (text === 'ok') return { type: 'ok' };
  let m: RegExpExecArray | null;
  if ((m = /^error:(\d{1,3})$/.exec(text))) return { type: 'error', code: Number(m[1]) };
  if ((m = /^ALARM:(\d{1,3})$/.exec(text))) return { type: 'alarm', code: Number(m[1]) };
  if (text.startsWith('<')) {
    const st = text.endsWith('>') ? parseStatus(text.slice(1, -1)) : null;
    return st ? { type: 'status', status: st } : { type: 'garbage', text, reason: 'malformed' };
  }
  if ((m = /^(Grbl|GrblHAL) (\S+) \[(.*'\$'.* for help)\]$/.exec(text))) {
    const firmware: GrblFirmwareName = m[1] === 'GrblHAL' ? 'grblHAL' : m[3]!.includes('FluidNC') ? 'FluidNC' : 'Grbl';
    return { type: 'welcome', version: m[2]!, firmware, text };
  }
  if ((m = /^\[([A-Za-z0-9.]+(?: [A-Za-z0-9.]+)*):(.*)\]$/.exec(text))) return { type: 'message', tag: m[1]!, text: m[2]! };
  if ((m = /^\$(\d{1,3}|N\d)=(.*)$/.exec(text))) return { type: 'setting', key: m[1]!, value: m[2]! };
  if ((m = /^>(.*):(ok|error:\d{1,3})$/.exec(text))) return { type: 'startup', line: m[1]!, result: m[2]! };
  return { type: 'garbage', text, reason: 'unknown' };
}

/** Incremental bytes → frames, for callers that are not streams (the firmware simulator reads its input this way). */
export class GrblFrameReader {
  private readonly splitter = new LineSplitter({ terminator: LF, ignore: [CR], maxLineBytes: GRBL_MAX_LINE });

  push(chunk: Uint8Array, emit: (f: GrblFrame) => void): void {
    this.splitter.push(chunk, (f: SplitFrame) => emit(f.kind === 'line' ? parseGrblLine(f.text) : { type: 'garbage', text: f.text, reason: f.reason }));
  }

  reset(): void {
    this.splitter.reset();
  }
}

export class GrblParser extends Transform {
  private readonly reader = new GrblFrameReader();

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.reader.push(chunk, (f) => this.push(f));
    cb();
  }
}
