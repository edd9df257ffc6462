// GRBL 1.1 parser: every message class, malformed reports, and fuzzing with random bytes and random chunking.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/sim/rng.js';
import { GrblFrameReader, GrblParser, parseGrblLine, type GrblFrame } from '../../src/stage/grbl/parser.js';
import { checkLine, formatMm, jogLine, lineBytes, moveLine, settingLine } from '../../src/stage/grbl/writer.js';

function frames(chunks: Uint8Array[]): GrblFrame[] {
  const r = new GrblFrameReader();
  const out: GrblFrame[] = [];
  for (const c of chunks) r.push(c, (f) => out.push(f));
  return out;
}

/** Splits `buf` into chunks of 1…maxLen bytes. */
function chop(buf: Buffer, rng: Rng, maxLen: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length;) {
    const n = rng.int(1, maxLen);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

const TRANSCRIPT = [
  '',
  "Grbl 1.1h ['$' for help]",
  "[MSG:'$H'|'$X' to unlock]",
  '<Alarm|MPos:0.000,0.000,0.000|Bf:15,128|FS:0,0|WCO:0.000,0.000,0.000>',
  '[VER:1.1h.20190825:]',
  '[OPT:V,15,128]',
  'ok',
  '$100=1000.000',
  '$10=3',
  '$N0=G54',
  'ok',
  '>G54G21:ok',
  '<Run|MPos:10.000,-5.500,1.250|Bf:14,100|FS:1200,0|Ov:100,100,100|A:SF>',
  'ok',
  'error:22',
  '<Hold:1|WPos:-2.500,0.000,11.000|F:500|Pn:XZ|Ln:99>',
  'ALARM:1',
  '[MSG:Reset to continue]',
  '<Idle|MPos:1.000,2.000,3.000,4.000|FS:0,0>',
];

describe('GRBL parser', () => {
  it('classifies every message class of the 1.1 interface', () => {
    expect(parseGrblLine('ok')).toEqual({ type: 'ok' });
    expect(parseGrblLine('error:22')).toEqual({ type: 'error', code: 22 });
    expect(parseGrblLine('ALARM:3')).toEqual({ type: 'alarm', code: 3 });
    expect(parseGrblLine("Grbl 1.1h ['$' for help]")).toEqual({ type: 'welcome', version: '1.1h', firmware: 'Grbl', text: "Grbl 1.1h ['$' for help]" });
    // The family's banners (grblHAL, FluidNC, Grbl_ESP32) and grblHAL's tags with spaces and homed flag.
    expect(parseGrblLine("GrblHAL 1.1f ['$' or '$HELP' for help]")).toMatchObject({ type: 'welcome', version: '1.1f', firmware: 'grblHAL' });
    expect(parseGrblLine("Grbl 3.7 [FluidNC v3.7.8 (wifi) '$' for help]")).toMatchObject({ type: 'welcome', version: '3.7', firmware: 'FluidNC' });
    expect(parseGrblLine("Grbl 1.3a ['$' for help]")).toMatchObject({ type: 'welcome', version: '1.3a', firmware: 'Grbl' });
    expect(parseGrblLine('[NVS STORAGE:*FLASH]')).toEqual({ type: 'message', tag: 'NVS STORAGE', text: '*FLASH' });
    expect(parseGrblLine('[DRIVER VERSION:231005]')).toEqual({ type: 'message', tag: 'DRIVER VERSION', text: '231005' });
    expect(parseGrblLine('<Idle|MPos:-1.000,-2.000,0.000|Bf:35,1023|FS:0,0|H:0>')).toMatchObject({
      type: 'status',
      status: { homed: false, bufferBytes: 1023 },
    });
    expect(parseGrblLine('<Idle|MPos:0.000,0.000,0.000|FS:0,0|H:1,7>')).toMatchObject({ type: 'status', status: { homed: true } });
    expect(parseGrblLine('Grbl 1.1h [garbled')).toMatchObject({ type: 'garbage' });
    expect(parseGrblLine('[MSG:Caution: Unlocked]')).toEqual({ type: 'message', tag: 'MSG', text: 'Caution: Unlocked' });
    expect(parseGrblLine('[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]')).toEqual({ type: 'message', tag: 'GC', text: 'G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0' });
    expect(parseGrblLine('[PRB:0.000,0.000,0.000:0]')).toEqual({ type: 'message', tag: 'PRB', text: '0.000,0.000,0.000:0' });
    expect(parseGrblLine('$110=500.000')).toEqual({ type: 'setting', key: '110', value: '500.000' });
    expect(parseGrblLine('$N1=')).toEqual({ type: 'setting', key: 'N1', value: '' });
    expect(parseGrblLine('>G54G20:error:20')).toEqual({ type: 'startup', line: 'G54G20', result: 'error:20' });
    expect(parseGrblLine('hello')).toEqual({ type: 'garbage', text: 'hello', reason: 'unknown' });
  });

  it('parses status reports with MPos, WPos, WCO, buffers, feed, pins, overrides and sub-states', () => {
    expect(parseGrblLine('<Idle|MPos:0.000,-10.000,5.000|FS:0,0|WCO:0.000,1.551,5.664>')).toEqual({
      type: 'status',
      status: { state: 'Idle', mpos: [0, -10, 5], feed: 0, spindle: 0, wco: [0, 1.551, 5.664] },
    });
    expect(parseGrblLine('<Hold:0|WPos:-2.500,0.000,11.000|Bf:15,128|F:500|Pn:XZ|Ov:100,100,100|A:SFM|Ln:99>')).toEqual({
      type: 'status',
      status: {
        state: 'Hold',
        subState: 0,
        wpos: [-2.5, 0, 11],
        bufferBlocks: 15,
        bufferBytes: 128,
        feed: 500,
        pins: 'XZ',
        overrides: [100, 100, 100],
        accessories: 'SFM',
        line: 99,
      },
    });
    // A later firmware's extra field is tolerated; a 4th axis too.
    expect(parseGrblLine('<Jog|MPos:1,2,3,4|FS:100,0|Xyz:7>')).toMatchObject({ type: 'status', status: { state: 'Jog', mpos: [1, 2, 3, 4] } });
  });

  it('turns malformed status reports into garbage instead of guessing', () => {
    for (const bad of [
      '<Idle|MPos:1.000,2.000>',
      '<Bogus|MPos:1,2,3>',
      '<Idle|MPos:a,b,c>',
      '<Idle>',
      '<Idle|FS:0,0>',
      '<Idle|MPos:1,2,3',
      '<Hold:x|MPos:1,2,3>',
      '<Idle|MPos:1,2,3|Bf:1.5,2>',
      '<Idle|MPos:1,2,3|Pn:Q>',
      '<Idle|MPos:1,2,3||>',
    ]) {
      expect(parseGrblLine(bad), bad).toEqual({ type: 'garbage', text: bad, reason: 'malformed' });
    }
  });

  it('works as a Transform in a pipe', async () => {
    const p = new GrblParser();
    const got: GrblFrame[] = [];
    p.on('data', (f: GrblFrame) => got.push(f));
    p.write(Buffer.from('o'));
    p.write(Buffer.from('k\r\nerror:9\r'));
    p.end(Buffer.from('\n'));
    await new Promise((r) => p.on('end', r));
    expect(got).toEqual([{ type: 'ok' }, { type: 'error', code: 9 }]);
  });

  it('gives the same frames however the bytes are split or merged', () => {
    const wire = Buffer.from(TRANSCRIPT.map((l) => `${l}\r\n`).join(''), 'latin1');
    const whole = frames([wire]);
    expect(whole).toHaveLength(TRANSCRIPT.length - 1);
    expect(whole.filter((f) => f.type === 'garbage')).toEqual([]);
    const rng = new Rng(1);
    for (let trial = 0; trial < 300; trial++) {
      expect(frames(chop(wire, rng, 1 + (trial % 40)))).toEqual(whole);
    }
    // Many transcripts merged into one chunk.
    expect(frames([Buffer.concat([wire, wire, wire])])).toEqual([...whole, ...whole, ...whole]);
  });

  it('survives random bytes in random chunks, bounding every line', () => {
    const rng = new Rng(2);
    for (let trial = 0; trial < 50; trial++) {
      const buf = Buffer.alloc(rng.int(1, 20_000));
      for (let i = 0; i < buf.length; i++) buf[i] = rng.next() < 0.02 ? 0x0a : rng.int(0, 255);
      const out = frames(chop(buf, rng, 64));
      for (const f of out) {
        expect(['ok', 'error', 'alarm', 'status', 'welcome', 'message', 'setting', 'startup', 'garbage']).toContain(f.type);
        if (f.type === 'garbage') expect(f.text.length).toBeLessThanOrEqual(256 * 4);
      }
    }
  });

  it('recovers every valid frame between bursts of line noise, counting the noise', () => {
    const rng = new Rng(3);
    const parts: Buffer[] = [];
    let bursts = 0;
    for (const l of TRANSCRIPT.slice(1)) {
      if (rng.next() < 0.5) {
        const n = Buffer.alloc(rng.int(1, 30));
        for (let i = 0; i < n.length; i++) n[i] = 0x80 | rng.int(0, 0x7f);
        parts.push(n, Buffer.from('\r\n'));
        bursts++;
      }
      parts.push(Buffer.from(`${l}\r\n`));
    }
    const out = frames(chop(Buffer.concat(parts), rng, 7));
    expect(out.filter((f) => f.type === 'garbage')).toHaveLength(bursts);
    expect(out.filter((f) => f.type !== 'garbage')).toEqual(frames([Buffer.from(TRANSCRIPT.map((l) => `${l}\r\n`).join(''))]));
  });

  it('reports an endless line once as overlong and resynchronises at the next terminator', () => {
    const out = frames([Buffer.alloc(10_000, 0x41), Buffer.from('\r\nok\r\n')]);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ type: 'garbage', reason: 'overlong' });
    expect(out[1]).toEqual({ type: 'ok' });
  });
});

describe('GRBL writer', () => {
  it('writes moves in machine coordinates with units and distance mode on every line', () => {
    expect(moveLine({ x: 10, y: 5.25, z: -0.1 }, { relative: false })).toBe('G21G90G53G0X10Y5.25Z-0.1');
    expect(moveLine({ x: 1.00004 }, { relative: true, feedMmPerMin: 600 })).toBe('G21G91G1X1F600');
    expect(moveLine({ y: -0.00001 }, { relative: false, feedMmPerMin: 12.345 })).toBe('G21G90G53G1Y0F12.3');
    expect(jogLine({ x: -2 }, { relative: true, feedMmPerMin: 1000 })).toBe('$J=G21G91X-2F1000');
    expect(settingLine(120, 50)).toBe('$120=50');
    expect(settingLine(100, 1000.5)).toBe('$100=1000.500');
    expect(lineBytes('G4P0')).toEqual(Buffer.from('G4P0\n'));
    expect(formatMm(-0)).toBe('0');
  });

  it('refuses what GRBL would garble or reject', () => {
    expect(() => moveLine({}, { relative: false })).toThrow('a GRBL move needs at least one axis');
    expect(() => moveLine({ x: Number.POSITIVE_INFINITY }, { relative: false })).toThrow('cannot send Infinity mm to GRBL');
    expect(() => moveLine({ x: 1 }, { relative: false, feedMmPerMin: 0 })).toThrow('feed 0 mm/min must be a positive number');
    expect(() => checkLine('G0X1\nG0X2')).toThrow('GRBL line "G0X1\\nG0X2" has characters other than printable ASCII');
    expect(() => checkLine('G0'.repeat(40))).toThrow(`GRBL line "${'G0'.repeat(40)}" is 80 characters; GRBL takes at most 79`);
    expect(() => settingLine(300, 1)).toThrow('GRBL setting $300 does not exist');
  });
});
