/**
 * Prior ProScan parser: bytes → frames. Every reply is one line ending in CR: "R" (a motion command was accepted),
 * "0" (a setting was accepted), "E,n" (error n), or a value ("x,y,z", a busy bitmask, a number). Which value a line is
 * depends on the command it answers, so values stay text here and the driver checks their shape.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { AsciiDialect } from '../ascii/command-channel.js';
import { CR, LF, LineSplitter } from '../ascii/line-splitter.js';
import { proscanErrorText } from './codes.js';

export type ProScanFrame =
  { type: 'ack' } | { type: 'error'; code: number } | { type: 'value'; text: string } | { type: 'garbage'; text: string; reason: 'non-ascii' | 'overlong' };

/** Replies are short ("-1234567,-1234567,-1234567" is the longest the stage sends); 128 bounds memory. */
export const PROSCAN_MAX_LINE = 128;

export function parseProScanLine(text: string): ProScanFrame {
  if (text === 'R') return { type: 'ack' };
  const m = /^E,(\d{1,3})$/.exec(text);
  if (m) return { type: 'error', code: Number(m[1]) };
  return { type: 'value', text };
}

export const PROSCAN_DIALECT: AsciiDialect = {
  name: 'ProScan',
  terminator: CR,
  // The controller ends lines with CR only; an LF (from a terminal, a USB adapter echo) is dropped wherever it appears.
  ignore: [LF],
  maxLineBytes: PROSCAN_MAX_LINE,
  parseError(line) {
    const f = parseProScanLine(line);
    return f.type === 'error' ? { firmwareCode: `E,${f.code}`, meaning: proscanErrorText(f.code) } : null;
  },
};

export class ProScanParser extends Transform {
  private readonly splitter = new LineSplitter({ terminator: CR, ignore: [LF], maxLineBytes: PROSCAN_MAX_LINE });

  constructor() {
    super({ readableObjectMode: true });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.splitter.push(chunk, (f) => this.push(f.kind === 'line' ? parseProScanLine(f.text) : { type: 'garbage', text: f.text, reason: f.reason }));
    cb();
  }
}

/** Shapes of the replies the driver expects. */
export const REPLY = {
  ack: /^R$/,
  zero: /^0$/,
  int: /^-?\d+$/,
  position: /^-?\d+,-?\d+,-?\d+$/,
  number: /^-?\d+(\.\d+)?$/,
  hex: /^[0-9A-Fa-f]+$/,
} as const;
