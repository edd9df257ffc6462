/**
 * Argument checks for the native surface, worded like the addon's own checks (native/src/args.cc) so a message reads
 * the same whichever layer catches it: "Expected <what> for <name> but received <value>".
 */

export type TypedArrayName = 'Uint8Array' | 'Uint16Array' | 'Int32Array' | 'Uint32Array' | 'Float32Array';
type AnyTyped = Uint8Array | Uint16Array | Int32Array | Uint32Array | Float32Array;

/** "an Int32Array", "an object", but "a Uint8Array". */
function article(word: string): string {
  return /^[AEIOaeio]/.test(word) ? 'an' : 'a';
}

function numberText(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  return String(v);
}

/** 'Uint8Array' for a Uint8Array and for a Buffer (which is one). */
export function typedArrayName(v: ArrayBufferView): string {
  return Object.prototype.toString.call(v).slice(8, -1);
}

export function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (typeof v === 'number') return `the number ${numberText(v)}`;
  if (typeof v === 'bigint') return 'a value of another type';
  if (typeof v === 'string') return `the string "${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const name = typedArrayName(v);
    return `${article(name)} ${name} of ${(v as unknown as ArrayLike<unknown>).length} elements`;
  }
  if (v instanceof ArrayBuffer) return `an ArrayBuffer of ${v.byteLength} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length} elements`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'object') return 'an object';
  return 'a value of another type';
}

export function typeError(expected: string, name: string, got: unknown): TypeError {
  return new TypeError(`Expected ${expected} for ${name} but received ${describe(got)}`);
}

export function rangeError(expected: string, name: string, got: unknown): RangeError {
  return new RangeError(`Expected ${expected} for ${name} but received ${describe(got)}`);
}

function listText(names: readonly string[]): string {
  const body = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
  return `${article(body)} ${body}`;
}

const ctorOf: Record<TypedArrayName, new (n: number) => AnyTyped> = {
  Uint8Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
};

/** A typed array of one of `types` with exactly `length` elements (at least, when `atLeast`). */
export function expectTypedArray<T extends AnyTyped>(v: unknown, name: string, types: readonly TypedArrayName[], length: number, atLeast = false): T {
  const what = listText(types);
  const ok = types.some((t) => v instanceof ctorOf[t]);
  if (!ok) throw typeError(what, name, v);
  const n = (v as AnyTyped).length;
  if (atLeast ? n < length : n !== length) {
    throw rangeError(`${what} ${atLeast ? 'of at least' : 'of'} ${length} elements`, name, v);
  }
  return v as T;
}

export function expectNumber(v: unknown, name: string, min: number, max: number, integer = false): number {
  const what = `${integer ? 'an integer' : 'a number'} between ${numberText(min)} and ${numberText(max)}`;
  if (typeof v !== 'number') throw typeError(what, name, v);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) throw rangeError(what, name, v);
  return v;
}

export function optionalNumber(v: unknown, name: string, min: number, max: number, integer = false): number | undefined {
  return v === undefined ? undefined : expectNumber(v, name, min, max, integer);
}

export function expectOneOf<T extends string>(v: unknown, name: string, allowed: readonly T[]): T {
  const what = `one of ${allowed.map((a) => `"${a}"`).join(', ')}`;
  if (typeof v !== 'string') throw typeError(what, name, v);
  if (!allowed.includes(v as T)) throw rangeError(what, name, v);
  return v as T;
}

export function expectBoolean(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw typeError('a boolean', name, v);
  return v;
}

export function expectString(v: unknown, name: string, nonEmpty = true): string {
  if (typeof v !== 'string') throw typeError('a string', name, v);
  if (nonEmpty && v.length === 0) throw rangeError('a non-empty string', name, v);
  return v;
}

/** Options objects: undefined reads as {}; arrays, typed arrays and functions are refused. */
export function expectOptions<T extends object>(v: unknown, name = 'options'): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v)) throw typeError('an object', name, v);
  return v as Partial<T>;
}

export function expectDimensions(width: unknown, height: unknown): number {
  return expectNumber(width, 'width', 1, 65535, true) * expectNumber(height, 'height', 1, 65535, true);
}

/** True when two typed arrays share any byte of memory. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

export function expectNoAlias(out: ArrayBufferView, outName: string, input: ArrayBufferView, inName: string): void {
  if (overlaps(out, input)) throw rangeError(`a buffer that does not share memory with ${inName}`, outName, out);
}
