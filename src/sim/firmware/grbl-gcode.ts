/**
 * The subset of GRBL 1.1's G-code parser the simulator needs, with GRBL's error codes for what it refuses
 * (https://github.com/gnea/grbl/blob/master/doc/markdown/commands.md, error table in the interface description).
 * Motion is G0/G1 with X Y Z and F; G4 dwell; G20/G21 units; G90/G91 distance; G53 machine coordinates; G17, G54, G94
 * accepted as the defaults they are. Arcs, probing, offsets and tool changes answer error:20 (unsupported).
 */

export interface ParsedBlock {
  motion?: 0 | 1;
  dwell?: boolean;
  units?: 'mm' | 'inch';
  distance?: 'absolute' | 'relative';
  machine?: boolean;
  words: Partial<Record<'X' | 'Y' | 'Z' | 'F' | 'P' | 'N', number>>;
}

export type GcodeResult = { block: ParsedBlock } | { error: number };

const MODAL_GROUP: Record<number, string> = {
  0: 'motion',
  1: 'motion',
  4: 'nonmodal',
  53: 'nonmodal',
  17: 'plane',
  20: 'units',
  21: 'units',
  54: 'wcs',
  90: 'distance',
  91: 'distance',
  94: 'feedmode',
};

/** Normalises a line the way GRBL does: spaces and comments dropped, letters upper-cased. */
export function normaliseLine(raw: string): string {
  return raw
    .replace(/\([^)]*\)/g, '')
    .replace(/;.*$/, '')
    .replace(/\s+/g, '')
    .toUpperCase();
}

/** Parses a normalised G-code line (no `$` commands). `jog`: the words after `$J=`. */
export function parseGcode(line: string, jog = false): GcodeResult {
  const block: ParsedBlock = { words: {} };
  const groups = new Set<string>();
  let i = 0;
  while (i < line.length) {
    const letter = line[i]!;
    if (!/[A-Z]/.test(letter)) return { error: 1 };
    i++;
    const m = /^[-+]?(\d+\.?\d*|\.\d+)/.exec(line.slice(i));
    if (!m) return { error: 2 };
    i += m[0].length;
    const value = Number(m[0]);
    if (letter === 'G') {
      if (!Number.isInteger(value)) return { error: 20 };
      const group = MODAL_GROUP[value];
      if (!group) return { error: 20 };
      if (jog && ![20, 21, 90, 91, 53].includes(value)) return { error: 16 };
      if (groups.has(group) && group !== 'nonmodal') return { error: 21 };
      groups.add(group);
      if (value === 0 || value === 1) block.motion = value;
      else if (value === 4) block.dwell = true;
      else if (value === 53) block.machine = true;
      else if (value === 20 || value === 21) block.units = value === 20 ? 'inch' : 'mm';
      else if (value === 90 || value === 91) block.distance = value === 90 ? 'absolute' : 'relative';
      continue;
    }
    if (letter === 'M') {
      if (jog) return { error: 16 };
      if (![0, 2, 5, 9, 30].includes(value)) return { error: 20 };
      continue;
    }
    if (!'XYZFPN'.includes(letter)) return { error: 20 };
    const key = letter as keyof ParsedBlock['words'];
    if (block.words[key] !== undefined) return { error: 25 };
    if (key === 'F' && value < 0) return { error: 4 };
    if (key === 'P' && value < 0) return { error: 4 };
    if (key === 'N' && (!Number.isInteger(value) || value < 1 || value > 9_999_999)) return { error: 27 };
    block.words[key] = value;
  }
  const axes = ['X', 'Y', 'Z'].some((a) => block.words[a as 'X'] !== undefined);
  if (block.dwell && block.words.P === undefined) return { error: 28 };
  if (block.dwell && block.motion !== undefined && axes) return { error: 24 };
  if (block.machine && block.motion === undefined && !axes) return { error: 26 };
  if (block.words.P !== undefined && !block.dwell) return { error: 36 };
  if (jog && block.words.F === undefined) return { error: 22 };
  if (jog && !axes) return { error: 26 };
  return { block };
}
