/**
 * scripts/sign-bundle — keys and signed model bundles.
 *
 *   sign-bundle keygen --out DIR [--name NAME]     writes DIR/NAME.key (private, mode 600) and DIR/NAME.pub
 *   sign-bundle golden BUNDLE_DIR [--cases N] [--size PX] [--seed S] [--source twin|dataset] [--dataset DIR]
 *                                                  writes the golden set: BUNDLE_DIR/golden/<i>.image.npy (a normalised
 *                                                  input tile) and <i>.probs.npy (the model's output on it) for N cases
 *                                                  (default 2) of PX² network pixels (default input.tileSize, at most
 *                                                  256), and manifest.json's `golden` with the tolerance; run before sign
 *   sign-bundle sign BUNDLE_DIR --key NAME.key [--out FILE.tar]
 *                                                  fills manifest.json's file list (sha256, size; golden/ included),
 *                                                  writes manifest.sig, and with --out packs the bundle into one .tar for
 *                                                  technicians
 *
 * `golden` renders its inputs with the digital twin (models trained on twin data) or crops them from the training
 * dataset (real-data models; ../shared/datasets/<name> or --dataset DIR), normalises them with the runtime's own
 * pre-processing, and takes the reference outputs from onnxruntime-node's CPU execution provider here, in the packaging
 * environment: that is what every microscope's installer must reproduce (scripts/bundle-tools/golden.ts explains the tolerance).
 *
 * Copy NAME.pub into /etc/smartscope/trusted-keys/ on each microscope that should accept bundles signed by NAME.key.
 * Keep NAME.key off the microscopes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeGoldenSet, type GoldenSource } from './bundle-tools/golden.js';
import { generateSigningKey } from '../src/bundles/keys.js';
import { packBundle, signBundleDir } from './bundle-tools/sign.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`sign-bundle: ${msg}\n`);
  process.stderr.write(
    'usage: sign-bundle keygen --out DIR [--name NAME]\n' +
      '       sign-bundle golden BUNDLE_DIR [--cases N] [--size PX] [--seed S] [--source twin|dataset] [--dataset DIR]\n' +
      '       sign-bundle sign BUNDLE_DIR --key FILE.key [--out FILE.tar]\n',
  );
  process.exit(2);
}

const [cmd, ...rest] = process.argv.slice(2);
const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    name: { type: 'string' },
    key: { type: 'string' },
    cases: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    source: { type: 'string' },
    dataset: { type: 'string' },
  },
});

function integer(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

if (cmd === 'keygen') {
  if (!values.out) usage('keygen needs --out DIR');
  const name = values.name ?? 'bundle-signing';
  mkdirSync(values.out, { recursive: true });
  const keyFile = join(values.out, `${name}.key`);
  if (existsSync(keyFile)) usage(`${keyFile} exists; refusing to overwrite a signing key`);
  const k = generateSigningKey();
  writeFileSync(keyFile, k.privatePem, { mode: 0o600 });
  writeFileSync(join(values.out, `${name}.pub`), k.publicPem, { mode: 0o644 });
  process.stdout.write(`${JSON.stringify({ keyId: k.id, privateKey: keyFile, publicKey: join(values.out, `${name}.pub`) })}\n`);
} else if (cmd === 'golden') {
  const dir = positionals[0];
  if (!dir) usage('golden needs BUNDLE_DIR');
  if (values.source !== undefined && values.source !== 'twin' && values.source !== 'dataset')
    usage(`--source must be twin or dataset, got ${JSON.stringify(values.source)}`);
  try {
    const r = await makeGoldenSet(dir, {
      cases: integer('cases', values.cases),
      size: integer('size', values.size),
      seed: integer('seed', values.seed),
      source: values.source as GoldenSource | undefined,
      dataset: values.dataset,
    });
    process.stdout.write(`${JSON.stringify({ ...r, next: `sign-bundle sign ${dir} --key FILE.key` })}\n`);
  } catch (err) {
    process.stderr.write(`sign-bundle golden: ${(err as Error).message}\n`);
    process.exit(1);
  }
} else if (cmd === 'sign') {
  const dir = positionals[0];
  if (!dir || !values.key) usage('sign needs BUNDLE_DIR and --key FILE.key');
  const r = signBundleDir(dir, readFileSync(values.key, 'utf8'));
  if (values.out) writeFileSync(values.out, packBundle(r.files));
  process.stdout.write(`${JSON.stringify({ bundle: r.id, keyId: r.keyId, files: r.files.size, ...(values.out ? { archive: values.out } : {}) })}\n`);
} else {
  usage(cmd ? `unknown command ${cmd}` : undefined);
}
