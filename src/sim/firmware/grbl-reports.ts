/**
 * What the simulated GRBL reports: the real-time status report (`<State|MPos:…|Bf:…|FS:…|…>`), field by field as
 * GRBL 1.1 sends it (https://github.com/gnea/grbl/blob/master/doc/markdown/interface.md#real-time-status-reports):
 * position always, buffer state when $10 asks for it, WCO on the first report after a reset and then every 10th,
 * overrides now and then, triggered limit pins after a hard-limit alarm; and the answers to the `$` queries.
 */
import type { Vec3 } from '../stage-physics.js';
import type { GrblSettings } from './grbl-settings.js';

export interface StatusSnapshot {
  state: string;
  /** Controller position (µm, after origin and direction). */
  ctrlUm: Vec3;
  speedUmPerS: number;
  /** $10: bit 0 MPos (else WPos), bit 1 buffer state. */
  mask: number;
  /** $13: report inches. */
  inch: boolean;
  plannerFree: number;
  rxFree: number;
  pins: string;
  wco: boolean;
  overrides: boolean;
  /** grblHAL: homed since power-up (`H:1`/`H:0`); undefined: not reported. */
  homed?: boolean;
}

export function formatStatus(s: StatusSnapshot): string {
  const unit = s.inch ? 25400 : 1000;
  const pos = s.ctrlUm.map((v) => (v / unit).toFixed(s.inch ? 4 : 3)).join(',');
  // No work offsets in the simulator: WPos equals MPos and WCO is zero.
  let out = `<${s.state}|${s.mask & 1 ? 'MPos' : 'WPos'}:${pos}`;
  if (s.mask & 2) out += `|Bf:${s.plannerFree},${s.rxFree}`;
  out += `|FS:${Math.round((s.speedUmPerS * 60) / unit)},0`;
  if (s.pins) out += `|Pn:${s.pins}`;
  if (s.homed !== undefined) out += `|H:${s.homed ? 1 : 0}`;
  if (s.wco) out += `|WCO:${s.inch ? '0.0000,0.0000,0.0000' : '0.000,0.000,0.000'}`;
  else if (s.overrides) out += '|Ov:100,100,100';
  return `${out}>\r\n`;
}

/** Lines answering the query-only `$` commands ($, $$, $I, $G, $#, $N), before their `ok`; null for other commands. */
export function queryReply(
  line: string,
  c: { settings: GrblSettings; info: string[]; modal: { motion: number; inch: boolean; relative: boolean; feedMmPerMin: number } },
): string[] | null {
  switch (line) {
    case '$':
      return ['[HLP:$$ $# $G $I $N $x=val $Nx=line $J=line $SLP $C $X $H ~ ! ? ctrl-x]'];
    case '$$':
      return c.settings.lines();
    case '$I':
      return c.info;
    case '$G': {
      const m = c.modal;
      return [`[GC:G${m.motion} G54 G17 ${m.inch ? 'G20' : 'G21'} ${m.relative ? 'G91' : 'G90'} G94 M5 M9 T0 F${m.feedMmPerMin} S0]`];
    }
    case '$#':
      return ['[G54:0.000,0.000,0.000]', '[G92:0.000,0.000,0.000]', '[TLO:0.000]', '[PRB:0.000,0.000,0.000:0]'];
    case '$N':
      return ['$N0=', '$N1='];
    default:
      return null;
  }
}
