/**
 * Writes small ONNX models (protobuf, https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) byte by byte, so tests
 * can make models of any shape without Python: a 1×1 convolution from `channels` inputs to `classes` outputs followed
 * by a softmax over the classes, i.e. per-pixel class probabilities softmax_c(Σ_k w[c][k]·in[k] + b[c]).
 */
type Field = Buffer;

function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
const key = (field: number, wire: number): Buffer => varint((field << 3) | wire);
const int = (field: number, v: number): Field => Buffer.concat([key(field, 0), varint(v)]);
const bytes = (field: number, b: Buffer | string): Field => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([key(field, 2), varint(buf.length), buf]);
};
const msg = (field: number, ...parts: Field[]): Field => bytes(field, Buffer.concat(parts));

type Dim = number | string;

function valueInfo(field: number, name: string, shape: Dim[]): Field {
  const dims = shape.map((d) => msg(1, typeof d === 'number' ? int(1, d) : bytes(2, d)));
  // ValueInfoProto{name=1, type=2}: TypeProto{tensor_type=1}: Tensor{elem_type=1 (FLOAT=1), shape=2}.
  return msg(field, bytes(1, name), msg(2, msg(1, int(1, 1), msg(2, ...dims))));
}

function initializer(name: string, dims: number[], values: number[]): Field {
  const raw = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => raw.writeFloatLE(v, i * 4));
  // TensorProto{dims=1, data_type=2, name=8, raw_data=9}
  return msg(5, ...dims.map((d) => int(1, d)), int(2, 1), bytes(8, name), bytes(9, raw));
}

export interface TinyModel {
  inputName?: string;
  outputName?: string;
  channels?: number;
  classes: number;
  height: number | string;
  width: number | string;
  batch?: number | string;
  /** classes × channels weights (row-major) and classes biases. */
  weights: number[];
  bias: number[];
}

export function tinyConvModel(m: TinyModel): Buffer {
  const inName = m.inputName ?? 'image';
  const outName = m.outputName ?? 'probs';
  const ch = m.channels ?? 1;
  const batch = m.batch ?? 'N';
  // NodeProto{input=1, output=2, name=3, op_type=4, attribute=5}; AttributeProto{name=1, i=3, type=20 (INT=2)}.
  const conv = msg(1, bytes(1, inName), bytes(1, 'W'), bytes(1, 'B'), bytes(2, 'scores'), bytes(3, 'conv'), bytes(4, 'Conv'));
  const softmax = msg(1, bytes(1, 'scores'), bytes(2, outName), bytes(3, 'softmax'), bytes(4, 'Softmax'), msg(5, bytes(1, 'axis'), int(3, 1), int(20, 2)));
  const graph = msg(
    7,
    conv,
    softmax,
    bytes(2, 'tiny'),
    initializer('W', [m.classes, ch, 1, 1], m.weights),
    initializer('B', [m.classes], m.bias),
    valueInfo(11, inName, [batch, ch, m.height, m.width]),
    valueInfo(12, outName, [batch, m.classes, m.height, m.width]),
  );
  // ModelProto{ir_version=1, producer_name=2, graph=7, opset_import=8{domain=1, version=2}}
  return Buffer.concat([int(1, 8), bytes(2, 'smartscope-test'), graph, msg(8, bytes(1, ''), int(2, 17))]);
}

/** What tinyConvModel computes, in plain JS: the independent reference for golden sets. */
export function tinyConvReference(m: TinyModel, input: Float32Array, n: number, h: number, w: number): Float32Array {
  const ch = m.channels ?? 1;
  const out = new Float32Array(n * m.classes * h * w);
  for (let b = 0; b < n; b++)
    for (let c = 0; c < m.classes; c++)
      for (let p = 0; p < h * w; p++) {
        let s = m.bias[c]!;
        for (let k = 0; k < ch; k++) s += m.weights[c * ch + k]! * input[(b * ch + k) * h * w + p]!;
        out[(b * m.classes + c) * h * w + p] = s;
      }
  for (let b = 0; b < n; b++)
    for (let p = 0; p < h * w; p++) {
      let max = -Infinity;
      for (let c = 0; c < m.classes; c++) max = Math.max(max, out[(b * m.classes + c) * h * w + p]!);
      let sum = 0;
      for (let c = 0; c < m.classes; c++) sum += Math.exp(out[(b * m.classes + c) * h * w + p]! - max);
      for (let c = 0; c < m.classes; c++) {
        const i = (b * m.classes + c) * h * w + p;
        out[i] = Math.exp(out[i]! - max) / sum;
      }
    }
  return out;
}
