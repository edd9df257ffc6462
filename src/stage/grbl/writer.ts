/**
 * GRBL 1.1 writer: the lines and real-time bytes this product sends. Lines are G-code blocks or `$` commands ending in
 * LF; real-time commands are single bytes that GRBL picks out of the stream at once and never puts in its receive
 * buffer (https://github.com/gnea/grbl/blob/master/doc/markdown/realtime_cmds.md).
 */
import type { StageAxis } from '../stage.js';

export const RT = {
  STATUS: 0x3f, // '?'
  FEED_HOLD: 0x21, // '!'
  CYCLE_START: 0x7e, // '~'
  SOFT_RESET: 0x18, // Ctrl-X
  JOG_CANCEL: 0x85,
} as const;

/** GRBL's line buffer holds 80 characters including the terminator; longer lines fail with error:11. */
export const GRBL_MAX_LINE_CHARS = 79;

/** Dwell of zero: its `ok` comes only once every motion before it has finished (the planner is empty). */
export const SYNC_LINE = 'G4P0';

const LETTER: Record<StageAxis, string> = { x: 'X', y: 'Y', z: 'Z' };

/** mm with 4 decimals (0.1 µm), trailing zeros dropped to keep lines short (they count against the 128-byte buffer). */
export function formatMm(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`cannot send ${v} mm to GRBL`);
  let s = v.toFixed(4);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

function axisWords(target: Partial<Record<StageAxis, number>>): string {
  let s = '';
  for (const a of ['x', 'y', 'z'] as const) if (target[a] !== undefined) s += LETTER[a] + formatMm(target[a]!);
  if (s === '') throw new RangeError('a GRBL move needs at least one axis');
  return s;
}

export interface MoveLineOptions {
  /** G91: the words are distances from where the previous move ends. */
  relative: boolean;
  /** G1 at this feed (mm/min); G0 (the axes' maximum rates) when left out. */
  feedMmPerMin?: number;
}

/**
 * One move. Absolute moves use G53 (machine coordinates) so work offsets (G54…, G92) left on the controller by someone
 * else cannot shift them; units (G21) and distance mode are stated on every line rather than trusted from modal state.
 */
export function moveLine(target: Partial<Record<StageAxis, number>>, opts: MoveLineOptions): string {
  const mode = opts.relative ? 'G91' : 'G90G53';
  const motion = opts.feedMmPerMin === undefined ? 'G0' : 'G1';
  const feed = opts.feedMmPerMin === undefined ? '' : `F${feedWord(opts.feedMmPerMin)}`;
  return checkLine(`G21${mode}${motion}${axisWords(target)}${feed}`);
}

/** A `$J=` jog: cancellable at once with {@link RT.JOG_CANCEL}, refused (error:15) beyond travel with soft limits on. */
export function jogLine(target: Partial<Record<StageAxis, number>>, opts: { relative: boolean; feedMmPerMin: number }): string {
  return checkLine(`$J=G21${opts.relative ? 'G91' : 'G53'}${axisWords(target)}F${feedWord(opts.feedMmPerMin)}`);
}

export function settingLine(id: number, value: number): string {
  if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`GRBL setting $${id} does not exist`);
  return checkLine(`$${id}=${Number.isInteger(value) ? String(value) : value.toFixed(3)}`);
}

function feedWord(f: number): string {
  if (!Number.isFinite(f) || f <= 0) throw new RangeError(`feed ${f} mm/min must be a positive number`);
  return f.toFixed(1).replace(/\.0$/, '');
}

/** Refuses what GRBL would garble or reject: control characters, non-ASCII, lines over its buffer. */
export function checkLine(line: string): string {
  if (!/^[\x20-\x7e]*$/.test(line)) throw new RangeError(`GRBL line ${JSON.stringify(line)} has characters other than printable ASCII`);
  if (line.length > GRBL_MAX_LINE_CHARS) throw new RangeError(`GRBL line "${line}" is ${line.length} characters; GRBL takes at most ${GRBL_MAX_LINE_CHARS}`);
  return line;
}

/** Bytes on the wire for a line (what character counting adds to the controller's receive buffer). */
export function lineBytes(line: string): Buffer {
  return Buffer.from(`${line}\n`, 'latin1');
}
