/**
 * Prior ProScan writer: command lines (without the CR the channel adds). Positions are integer counts at the
 * resolution set with RES (µm per count). Commands after the ProScan III manual's command set: G / GR / GX / GY / GZ,
 * P, $, I, K, COMP, RES, SMS / SAS / SMZ / SAZ, SIS, "=".
 */
import type { StageAxis } from '../stage.js';

export type Counts = Partial<Record<StageAxis, number>>;

function count(v: number, axis: StageAxis): string {
  if (!Number.isInteger(v) || Math.abs(v) > 2_147_483_647) throw new RangeError(`ProScan ${axis} position ${v} is not a 32-bit count`);
  return String(v);
}

/** Absolute move; the shortest command that moves exactly the given axes (undefined when none is given). */
export function goTo(t: Counts): string {
  const has = (a: StageAxis): boolean => t[a] !== undefined;
  if (has('x') && has('y')) return has('z') ? `G,${count(t.x!, 'x')},${count(t.y!, 'y')},${count(t.z!, 'z')}` : `G,${count(t.x!, 'x')},${count(t.y!, 'y')}`;
  const only = (['x', 'y', 'z'] as const).filter(has);
  if (only.length === 1) return `G${only[0]!.toUpperCase()},${count(t[only[0]!]!, only[0]!)}`;
  throw new RangeError(`no single ProScan command moves exactly the axes ${only.join(', ') || '(none)'}`);
}

/** Relative move of all three axes. */
export function goBy(d: Counts): string {
  return `GR,${count(d.x ?? 0, 'x')},${count(d.y ?? 0, 'y')},${count(d.z ?? 0, 'z')}`;
}

export const CMD = {
  position: 'P',
  busy: '$',
  stop: 'I',
  kill: 'K',
  standardMode: 'COMP,0',
  index: 'SIS',
  limitHits: '=',
} as const;

/** RES,s / RES,z: µm per reported count. */
export function resolution(which: 's' | 'z', umPerCount: number): string {
  if (!(umPerCount > 0) || !Number.isFinite(umPerCount)) throw new RangeError(`ProScan resolution ${umPerCount} µm must be positive`);
  return `RES,${which},${Number(umPerCount.toPrecision(6))}`;
}

/** SMS / SAS / SMZ / SAZ take a percentage 1…100. */
export function percent(cmd: 'SMS' | 'SAS' | 'SMZ' | 'SAZ', pct: number): string {
  const p = Math.round(pct);
  if (p < 1 || p > 100) throw new RangeError(`ProScan ${cmd} ${pct} % is outside 1…100`);
  return `${cmd},${p}`;
}
