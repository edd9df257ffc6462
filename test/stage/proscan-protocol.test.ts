// Prior ProScan parser and writer, and the shared CR-terminated ASCII ack/error channel they run on: reply shapes,
// error mapping, stray and late lines, time-outs, and fuzzing with random bytes and random chunking.
import { describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { AsciiCommandChannel } from '../../src/stage/ascii/command-channel.js';
import { LineSplitter, type SplitFrame } from '../../src/stage/ascii/line-splitter.js';
import { duplexPair } from '../../src/sim/firmware/duplex-pair.js';
import { Rng } from '../../src/sim/rng.js';
import { parseProScanLine, PROSCAN_DIALECT, ProScanParser, REPLY, type ProScanFrame } from '../../src/stage/proscan/parser.js';
import { goBy, goTo, percent, resolution } from '../../src/stage/proscan/writer.js';

function chop(buf: Buffer, rng: Rng, maxLen: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length;) {
    const n = rng.int(1, maxLen);
    out.push(buf.subarray(i, i + n));
    i += n;
  }
  return out;
}

function split(chunks: Buffer[]): SplitFrame[] {
  const s = new LineSplitter({ terminator: 0x0d, ignore: [0x0a], maxLineBytes: 128 });
  const out: SplitFrame[] = [];
  for (const c of chunks) s.push(c, (f) => out.push(f));
  return out;
}

/** A scripted controller on the other end of an in-process link: answers each command with `answer(cmd)`. */
function controller(answer: (cmd: string) => string | string[] | null): { host: Duplex; seen: string[] } {
  const [host, dev] = duplexPair();
  const seen: string[] = [];
  let buf = '';
  dev.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r')) >= 0) {
      const cmd = buf.slice(0, i);
      buf = buf.slice(i + 1);
      seen.push(cmd);
      const a = answer(cmd);
      if (a !== null) for (const l of Array.isArray(a) ? a : [a]) dev.write(`${l}\r`);
    }
  });
  return { host, seen };
}

describe('ProScan parser and writer', () => {
  it('classifies acknowledgements, errors and values', () => {
    expect(parseProScanLine('R')).toEqual({ type: 'ack' });
    expect(parseProScanLine('E,8')).toEqual({ type: 'error', code: 8 });
    expect(parseProScanLine('1000,-20,5')).toEqual({ type: 'value', text: '1000,-20,5' });
    expect(PROSCAN_DIALECT.parseError('E,18')).toEqual({ firmwareCode: 'E,18', meaning: 'command queue full' });
    expect(PROSCAN_DIALECT.parseError('E,99')).toEqual({ firmwareCode: 'E,99', meaning: 'unknown error code' });
    expect(PROSCAN_DIALECT.parseError('0')).toBeNull();
    expect(REPLY.position.test('1,-2,3')).toBe(true);
    expect(REPLY.position.test('1,-2')).toBe(false);
  });

  it('writes the shortest command that moves exactly the given axes', () => {
    expect(goTo({ x: 1, y: -2, z: 3 })).toBe('G,1,-2,3');
    expect(goTo({ x: 1, y: -2 })).toBe('G,1,-2');
    expect(goTo({ z: 30 })).toBe('GZ,30');
    expect(goTo({ y: 7 })).toBe('GY,7');
    expect(() => goTo({ x: 1, z: 2 })).toThrow('no single ProScan command moves exactly the axes x, z');
    expect(() => goTo({ x: 1.5 })).toThrow('ProScan x position 1.5 is not a 32-bit count');
    expect(goBy({ x: -5 })).toBe('GR,-5,0,0');
    expect(resolution('s', 0.1)).toBe('RES,s,0.1');
    expect(percent('SMS', 49.6)).toBe('SMS,50');
    expect(() => percent('SAS', 0)).toThrow('ProScan SAS 0 % is outside 1…100');
  });

  it('Transform frames CR-terminated replies whatever the chunking, ignoring LF', async () => {
    const p = new ProScanParser();
    const got: ProScanFrame[] = [];
    p.on('data', (f: ProScanFrame) => got.push(f));
    for (const c of ['R', '\r\n1,2', ',3\rE,', '4\r']) p.write(Buffer.from(c));
    p.end();
    await new Promise((r) => p.on('end', r));
    expect(got).toEqual([{ type: 'ack' }, { type: 'value', text: '1,2,3' }, { type: 'error', code: 4 }]);
  });

  it('splits the same lines from any chunking, and bounds random input', () => {
    const lines = ['R', '0', '100,200,-3', 'E,5', '7', 'PROSCAN INFORMATION', 'END'];
    const wire = Buffer.from(lines.map((l) => `${l}\r`).join(''));
    const whole = split([wire]);
    expect(whole.map((f) => f.kind === 'line' && f.text)).toEqual(lines);
    const rng = new Rng(5);
    for (let t = 0; t < 300; t++) expect(split(chop(wire, rng, 1 + (t % 20)))).toEqual(whole);
    for (let t = 0; t < 50; t++) {
      const buf = Buffer.alloc(rng.int(1, 10_000));
      for (let i = 0; i < buf.length; i++) buf[i] = rng.next() < 0.03 ? 0x0d : rng.int(0, 255);
      for (const f of split(chop(buf, rng, 50))) {
        if (f.kind === 'line') expect(f.text).toMatch(/^[\x20-\x7e]{1,128}$/);
      }
    }
  });
});

describe('CR-terminated ASCII ack/error channel', () => {
  it('matches each reply to its command by shape and maps errors to typed errors', async () => {
    const c = controller((cmd) => (cmd === 'P' ? '1,2,3' : cmd === 'BAD' ? 'E,5' : 'R'));
    const ch = new AsciiCommandChannel(c.host, PROSCAN_DIALECT, { replyTimeoutMs: 500 });
    await expect(ch.request('P', { expect: REPLY.position })).resolves.toBe('1,2,3');
    await expect(ch.request('G,1,2', { expect: REPLY.ack })).resolves.toBe('R');
    await expect(ch.request('BAD', { expect: REPLY.ack })).rejects.toMatchObject({
      message: 'ProScan E,5 (unknown command) for "BAD"',
      code: 'CONTROLLER_ERROR',
      firmwareCode: 'E,5',
    });
    await expect(ch.request('G\r1', { expect: REPLY.ack })).rejects.toThrow('ProScan command "G\\r1" is not one line of printable ASCII');
    expect(c.seen).toEqual(['P', 'G,1,2', 'BAD']);
    ch.close(new Error('done'));
  });

  it('skips stray lines and noise, counting them, and keeps one command on the wire at a time', async () => {
    const c = controller((cmd) => (cmd === '$' ? ['R', '\u00ff\u00fe', '0'] : ['junk', '5,6,7']));
    const ch = new AsciiCommandChannel(c.host, PROSCAN_DIALECT, { replyTimeoutMs: 500 });
    const [a, b] = await Promise.all([ch.request('$', { expect: REPLY.int }), ch.request('P', { expect: REPLY.position })]);
    expect([a, b]).toEqual(['0', '5,6,7']);
    expect(ch.stats).toMatchObject({ commands: 2, strayLines: 2, garbageLines: 1, timeouts: 0 });
    ch.close(new Error('done'));
  });

  it('times out, retries queries, and does not take a late reply for the next command', async () => {
    let n = 0;
    const [host, dev] = duplexPair();
    dev.on('data', (d: Buffer) => {
      for (const cmd of d.toString().split('\r').filter(Boolean)) {
        n++;
        // The first P is answered late (after its time-out, while the channel drains); everything else at once.
        if (cmd === 'P' && n === 1) setTimeout(() => dev.write('9,9,9\r'), 250);
        else if (cmd === 'P') dev.write('1,2,3\r');
        else if (cmd === 'SLOW') setTimeout(() => dev.write('R\r'), 250);
        else dev.write('R\r');
      }
    });
    const ch = new AsciiCommandChannel(host, PROSCAN_DIALECT, { replyTimeoutMs: 200 });
    await expect(ch.request('P', { expect: REPLY.position, retries: 1 })).resolves.toBe('1,2,3');
    await expect(ch.request('SLOW', { expect: REPLY.ack })).rejects.toMatchObject({ message: 'ProScan did not answer "SLOW" within 200 ms', code: 'TIMEOUT' });
    // The late "R" of SLOW arrives while the channel drains; the next command gets its own answer.
    await expect(ch.request('G,1,1', { expect: REPLY.ack })).resolves.toBe('R');
    await new Promise((r) => setTimeout(r, 200));
    expect(ch.stats.timeouts).toBe(2);
    expect(ch.stats.retries).toBe(1);
    expect(ch.stats.strayLines).toBe(2);
    ch.close(new Error('done'));
  });

  it('fails everything waiting when the link closes', async () => {
    const c = controller(() => null);
    const ch = new AsciiCommandChannel(c.host, PROSCAN_DIALECT, { replyTimeoutMs: 5000 });
    const a = ch.request('P', { expect: REPLY.position });
    const b = ch.request('$', { expect: REPLY.int });
    ch.close(Object.assign(new Error('stage link lost'), { disconnected: true }));
    await expect(a).rejects.toMatchObject({ disconnected: true });
    await expect(b).rejects.toThrow('stage link lost');
    await expect(ch.request('P', { expect: REPLY.position })).rejects.toThrow('stage link lost');
  });
});
