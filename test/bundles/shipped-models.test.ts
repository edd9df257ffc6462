/**
 * The shipped bundles (models/*) as a technician installs them: signed with a key the microscope trusts, then put
 * through every check of `smartscope model install|verify` (src/bundles/verify.ts verifyBundle), golden set included.
 * A copy whose weights were altered and whose hashes were re-signed passes the signature and hash checks and must be
 * refused by the golden gate. And `scripts/sign-bundle golden` + `sign` make a bundle that verifies.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../src/bundles/bundle-source.js';
import { defaultDatasetDir, GOLDEN_TOLERANCE, makeGoldenSet } from '../../scripts/bundle-tools/golden.js';
import { loadTrustedKeys, type TrustedKey } from '../../src/bundles/keys.js';
import type { Manifest } from '../../src/bundles/manifest.js';
import { signBundleDir } from '../../scripts/bundle-tools/sign.js';
import { BundleRefused, sha256, verifyBundle } from '../../src/bundles/verify.js';
import { loadBundle, readManifest, shippedModelsDir } from '../../src/inference/manifest.js';
import { makeTrustedKey, type TestKeys } from '../support/bundles.js';
import { repoRoot } from '../support/cli.js';

const shipped = shippedModelsDir();
const NAMES = ['ebc', 'pitting', 'superalloy', 'survey', 'zoom'];

let dir: string;
let keys: TestKeys;
let trusted: TrustedKey[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-shipped-'));
  keys = makeTrustedKey(dir);
  trusted = loadTrustedKeys(keys.trustedDir).keys;
});

const manifestOf = (d: string): Manifest => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as Manifest;

/** A copy of a shipped bundle in the temp folder, signed with the test key. */
function signedCopy(name: string, as: string, change?: (d: string) => void): string {
  const d = join(dir, as);
  cpSync(join(shipped, name), d, { recursive: true });
  change?.(d);
  signBundleDir(d, keys.privatePem);
  return d;
}

async function verify(path: string) {
  return verifyBundle(readBundle(path), { trustedKeys: trusted, trustedKeysDir: keys.trustedDir });
}

async function refusal(path: string): Promise<BundleRefused> {
  try {
    await verify(path);
  } catch (err) {
    expect(err).toBeInstanceOf(BundleRefused);
    return err as BundleRefused;
  }
  throw new Error(`${path} was accepted`);
}

// --- a minimal ONNX (protobuf) reader: where each initializer's raw float32 data lies in the file -----------------

function varint(b: Buffer, o: number): [number, number] {
  let v = 0;
  let s = 0;
  let x: number;
  do {
    x = b[o++]!;
    v += (x & 0x7f) * 2 ** s;
    s += 7;
  } while (x & 0x80);
  return [v, o];
}

interface Field {
  field: number;
  start: number;
  end: number;
  value?: number;
}

function fields(b: Buffer, start: number, end: number): Field[] {
  const out: Field[] = [];
  let o = start;
  while (o < end) {
    let key: number;
    [key, o] = varint(b, o);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let value: number;
      [value, o] = varint(b, o);
      out.push({ field, start: o, end: o, value });
    } else if (wire === 2) {
      let n: number;
      [n, o] = varint(b, o);
      out.push({ field, start: o, end: o + n });
      o += n;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      out.push({ field, start: o, end: o + n });
      o += n;
    } else throw new Error(`unexpected protobuf wire type ${wire}`);
  }
  return out;
}

/** ModelProto.graph (7) → GraphProto.initializer (5) → TensorProto dims (1), data_type (2, 1 = float), raw_data (9). */
function floatInitializers(onnx: Buffer): Array<{ dims: number[]; offset: number; count: number }> {
  const graph = fields(onnx, 0, onnx.length).find((f) => f.field === 7)!;
  return fields(onnx, graph.start, graph.end)
    .filter((f) => f.field === 5)
    .map((t) => fields(onnx, t.start, t.end))
    .filter((fs) => fs.find((f) => f.field === 2)?.value === 1 && fs.some((f) => f.field === 9))
    .map((fs) => {
      const raw = fs.find((f) => f.field === 9)!;
      return { dims: fs.filter((f) => f.field === 1).map((f) => f.value!), offset: raw.start, count: (raw.end - raw.start) / 4 };
    });
}

// -------------------------------------------------------------------------------------------------------------------

describe('shipped model bundles', () => {
  it('carry a small golden set within the documented tolerance, and model.sha256 still matches model.onnx', () => {
    let total = 0;
    for (const name of NAMES) {
      const d = join(shipped, name);
      const m = manifestOf(d);
      expect(loadBundle(d).manifest.model.sha256).toBe(sha256(readFileSync(join(d, m.model.file))));
      expect(m.golden?.tolerance).toEqual(GOLDEN_TOLERANCE);
      expect(m.golden!.cases.length).toBeGreaterThanOrEqual(2);
      const listed = m.golden!.cases.flatMap((c) => [...Object.values(c.inputs), ...Object.values(c.outputs)]).sort();
      expect(
        readdirSync(join(d, 'golden'))
          .map((f) => `golden/${f}`)
          .sort(),
      ).toEqual(listed);
      for (const f of listed) total += statSync(join(d, f)).size;
    }
    expect(total).toBeLessThan(3 * 1024 * 1024);
  });

  for (const name of NAMES) {
    it(`${name}: signed, it passes every install check including the golden set`, async () => {
      const v = await verify(signedCopy(name, name));
      expect(v.manifest.model.sha256).toBe(manifestOf(join(shipped, name)).model.sha256);
      expect(v.golden!.cases).toBe(manifestOf(join(shipped, name)).golden!.cases.length);
      // Same runtime, same CPU: the replay is exact or within float noise, far inside the tolerance.
      expect(v.golden!.maxAbsDiff).toBeLessThan(GOLDEN_TOLERANCE.maxAbsDiff / 100);
      expect(v.golden!.minArgmaxAgreement).toBe(1);
    });
  }

  it('refuses a copy whose weights were altered, by the golden gate, although its hashes were re-signed', async () => {
    const d = signedCopy('survey', 'survey-altered', (d) => {
      const file = join(d, 'model.onnx');
      const onnx = readFileSync(file);
      // The first convolution (one input channel): flip the sign byte of its largest weight.
      const first = floatInitializers(onnx).find((t) => t.dims.length === 4 && t.dims[1] === 1)!;
      let k = 0;
      for (let i = 1; i < first.count; i++) if (Math.abs(onnx.readFloatLE(first.offset + 4 * i)) > Math.abs(onnx.readFloatLE(first.offset + 4 * k))) k = i;
      onnx[first.offset + 4 * k + 3] ^= 0x80;
      writeFileSync(file, onnx);
    });
    const m = manifestOf(d);
    expect(m.model.sha256).not.toBe(manifestOf(join(shipped, 'survey')).model.sha256); // re-signed: the hash check passes
    const e = await refusal(d);
    expect(e.code).toBe('golden');
    expect(e.message).toMatch(
      /^golden case 1 \("twin 5x field .*"\): output "probs" differs from the reference by up to [0-9.e-]+ \(tolerance 0\.001\); the model does not reproduce its golden set$/,
    );
  });

  it('refuses another model with the same classes in place of the signed one, by the golden gate', async () => {
    // survey and pitting both output [background, one foreground class].
    const d = signedCopy('pitting', 'pitting-wrong-model', (d) => cpSync(join(shipped, 'survey', 'model.onnx'), join(d, 'model.onnx')));
    const e = await refusal(d);
    expect(e.code).toBe('golden');
  });
});

describe('sign-bundle golden', () => {
  /** A shipped bundle as training leaves it: no golden set, no file list, no signature. */
  function fresh(name: string, as: string): string {
    const d = join(dir, as);
    cpSync(join(shipped, name), d, { recursive: true });
    rmSync(join(d, 'golden'), { recursive: true, force: true });
    const m = manifestOf(d) as Record<string, unknown>;
    delete m.golden;
    writeFileSync(join(d, 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
    return d;
  }

  it('renders twin inputs at the model pixel size, writes the set in the installer format, and the signed bundle verifies', async () => {
    const d = fresh('zoom', 'zoom-new');
    const r = await makeGoldenSet(d, { cases: 2, size: 32, seed: 7 });
    expect(r).toMatchObject({ bundle: 'zoom@1.0.0', source: 'twin', size: 32, check: { cases: 2, maxAbsDiff: 0, minArgmaxAgreement: 1 } });
    expect(r.cases[0]!.name).toMatch(/^twin 50x field \(0\.13 µm\/px, 12-bit\) centred on a scratch/);
    expect(r.cpuVariation.maxAbsDiff).toBeLessThan(GOLDEN_TOLERANCE.maxAbsDiff / 100);
    const m = manifestOf(d);
    expect(m.golden).toEqual({
      tolerance: GOLDEN_TOLERANCE,
      cases: r.cases.map((c, i) => ({ name: c.name, inputs: { image: `golden/${i}.image.npy` }, outputs: { probs: `golden/${i}.probs.npy` } })),
    });
    expect(statSync(join(d, 'golden/0.probs.npy')).size).toBe(128 + 5 * 32 * 32 * 4);
    signBundleDir(d, keys.privatePem);
    expect((await verify(d)).golden).toMatchObject({ cases: 2, maxAbsDiff: 0, minArgmaxAgreement: 1 });
  });

  it.skipIf(!existsSync(defaultDatasetDir(readManifest(join(shipped, 'ebc')))))(
    'crops real-data inputs from the training dataset (binned like the runtime)',
    async () => {
      const d = fresh('ebc', 'ebc-new');
      const r = await makeGoldenSet(d, { cases: 1, size: 32 });
      expect(r.source).toBe('dataset');
      expect(r.cases[0]!.name).toMatch(
        /^nasa_ebc_sem image .*, 64² px crop at \(\d+, \d+\) where its labels show the most foreground \(MIT; attribution in MODEL_CARD\.md\)$/,
      );
      signBundleDir(d, keys.privatePem);
      expect((await verify(d)).golden).toMatchObject({ cases: 1, maxAbsDiff: 0 });
    },
  );

  it('runs from the command line: golden, then sign into a .tar that verifies', async () => {
    const script = join(repoRoot, 'dist/scripts/sign-bundle.js');
    if (!existsSync(script)) throw new Error(`${script} is missing: build with \`npx tsc -p tsconfig.json\` (npm test does it)`);
    const d = fresh('survey', 'survey-cli');
    const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 60_000 });
    let r = run('golden', d, '--size', '32', '--cases', '3');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ bundle: 'survey@1.0.0', source: 'twin', size: 32, cases: [{}, {}, {}] });
    r = run('golden', d, '--size', '30');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("sign-bundle golden: --size must be a multiple of the model's input.sizeMultiple 4 between 4 and input.tileSize 256, but is 30\n");
    const keyFile = join(dir, 'factory.key');
    writeFileSync(keyFile, keys.privatePem);
    r = run('sign', d, '--key', keyFile, '--out', join(dir, 'survey-cli.tar'));
    expect(r.status).toBe(0);
    const v = await verify(join(dir, 'survey-cli.tar'));
    expect(v.golden).toMatchObject({ cases: 3, maxAbsDiff: 0 });
    expect(v.manifest.files.map((f) => f.path)).toEqual([
      'MODEL_CARD.md',
      'golden/0.image.npy',
      'golden/0.probs.npy',
      'golden/1.image.npy',
      'golden/1.probs.npy',
      'golden/2.image.npy',
      'golden/2.probs.npy',
      'model.onnx',
    ]);
  });
});
