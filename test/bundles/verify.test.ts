import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../src/bundles/bundle-source.js';
import { generateSigningKey, loadTrustedKeys, type TrustedKey } from '../../src/bundles/keys.js';
import { BundleRefused, verifyBundle } from '../../src/bundles/verify.js';
import { makeBundle, makeTrustedKey, writeBundleDir, writeBundleTar, type TestKeys } from '../support/bundles.js';

let dir: string;
let keys: TestKeys;
let trusted: TrustedKey[];

async function refusal(files: Map<string, Buffer>, name: string): Promise<BundleRefused> {
  const src = readBundle(writeBundleDir(files, join(dir, name)));
  try {
    await verifyBundle(src, { trustedKeys: trusted, trustedKeysDir: keys.trustedDir });
  } catch (err) {
    expect(err).toBeInstanceOf(BundleRefused);
    return err as BundleRefused;
  }
  throw new Error('bundle was accepted');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'smartscope-verify-'));
  keys = makeTrustedKey(dir);
  trusted = loadTrustedKeys(keys.trustedDir).keys;
});

describe('bundle verification', () => {
  it('accepts a good bundle from a folder and from a .tar, replaying the golden set', async () => {
    const files = makeBundle({ version: '1.0.0' }, keys.privatePem);
    for (const src of [readBundle(writeBundleDir(files, join(dir, 'good'))), readBundle(writeBundleTar(files, join(dir, 'good.tar')))]) {
      const v = await verifyBundle(src, { trustedKeys: trusted, trustedKeysDir: keys.trustedDir });
      expect(v.manifest.name).toBe('tiny-seg');
      expect(v.manifest.model.sha256).toBe(v.manifest.files.find((f) => f.path === 'model.onnx')!.sha256);
      expect(v.key.id).toBe(keys.id);
      expect(v.golden).toMatchObject({ cases: 2, minArgmaxAgreement: 1 });
      expect(v.golden!.maxAbsDiff).toBeLessThan(1e-4);
    }
  });

  it('refuses an unsigned bundle', async () => {
    const files = makeBundle({ version: '1.0.1' }, keys.privatePem);
    files.delete('manifest.sig');
    const e = await refusal(files, 'unsigned');
    expect(e.code).toBe('unsigned');
    expect(e.message).toBe(
      `${join(dir, 'unsigned')} is not signed (no manifest.sig): only bundles signed with a trusted key install; sign it with scripts/sign-bundle`,
    );
  });

  it('refuses a bundle signed by an unknown key', async () => {
    const stranger = generateSigningKey();
    const e = await refusal(makeBundle({ version: '1.0.2' }, stranger.privatePem), 'stranger');
    expect(e.code).toBe('unknown-key');
    expect(e.message).toBe(
      `${join(dir, 'stranger')} is signed by key ${stranger.id}, which is not trusted on this microscope (trusted keys in ${keys.trustedDir}: ${keys.id})`,
    );
  });

  it('refuses a manifest changed after signing', async () => {
    const files = makeBundle({ version: '1.0.3' }, keys.privatePem);
    files.set('manifest.json', Buffer.from(files.get('manifest.json')!.toString().replace('"1.0.3"', '"1.0.4"')));
    const e = await refusal(files, 'tampered');
    expect(e.code).toBe('bad-signature');
    expect(e.message).toBe(
      `the signature of ${join(dir, 'tampered')} by key ${keys.id} (${join(keys.trustedDir, 'factory.pub')}) does not match manifest.json: the manifest was changed after signing`,
    );
  });

  it('refuses a corrupted model file', async () => {
    const files = makeBundle({ version: '1.0.5' }, keys.privatePem);
    const m = Buffer.from(files.get('model.onnx')!);
    m[m.length - 10] ^= 0xff;
    files.set('model.onnx', m);
    const e = await refusal(files, 'corrupt');
    expect(e.code).toBe('corrupted');
    expect(e.message).toMatch(
      new RegExp(
        `^model\\.onnx in ${join(dir, 'corrupt')} is corrupted: ${m.length} bytes with sha256 [0-9a-f]{12}… but the signed manifest says ${m.length} bytes with sha256 [0-9a-f]{12}…$`,
      ),
    );
  });

  it('refuses a truncated .tar', async () => {
    const tar = writeBundleTar(makeBundle({ version: '1.0.6' }, keys.privatePem), join(dir, 'trunc.tar'));
    const { readFileSync } = await import('node:fs');
    const buf = readFileSync(tar);
    writeFileSync(tar, buf.subarray(0, 1500));
    expect(() => readBundle(tar)).toThrow(/trunc\.tar: truncated tar archive \(no end-of-archive marker after 1 files\)$/);
  });

  it('refuses files the manifest does not cover', async () => {
    const files = makeBundle({ version: '1.0.7' }, keys.privatePem);
    files.set('extra.sh', Buffer.from('#!/bin/sh\n'));
    const e = await refusal(files, 'extra');
    expect(e.code).toBe('unlisted');
    expect(e.message).toBe(`${join(dir, 'extra')} holds files its manifest does not list, so the signature does not cover them: extra.sh`);
  });

  it('refuses a model whose input shape differs from the manifest', async () => {
    const e = await refusal(makeBundle({ version: '1.1.0', modelChannels: 3 }, keys.privatePem), 'shape');
    expect(e.code).toBe('shape');
    expect(e.message).toBe('input "image": the model takes float32 [N,3,H,W] but the manifest declares float32 NCHW with 1 channel and 8×8 tiles');
  });

  it('refuses a model whose classes differ from the manifest', async () => {
    const e = await refusal(makeBundle({ version: '1.1.1', modelClasses: 4 }, keys.privatePem), 'classes');
    expect(e.code).toBe('classes');
    expect(e.message).toBe('output "probs" has 4 channels but the manifest lists 3 classes (background, scratch, pit)');
  });

  it('refuses a bundle without a golden set', async () => {
    const e = await refusal(makeBundle({ version: '1.1.2', noGolden: true }, keys.privatePem), 'no-golden');
    expect(e.code).toBe('manifest');
    expect(e.message).toBe('manifest.json has no "golden" set: a bundle installs only when the model reproduces its reference outputs on this microscope');
  });

  it('refuses a model that does not reproduce its golden set', async () => {
    const e = await refusal(makeBundle({ version: '1.2.0', goldenOffset: 0.05 }, keys.privatePem), 'golden');
    expect(e.code).toBe('golden');
    expect(e.message).toMatch(
      /^golden case 1 \("case 0"\): output "probs" differs from the reference by up to 0\.0500 \(tolerance 0\.0001\); the model does not reproduce its golden set$/,
    );
  });

  it('refuses a file that is not an ONNX model', async () => {
    const files = makeBundle({ version: '1.3.0' }, keys.privatePem);
    const { assembleBundle } = await import('../../scripts/bundle-tools/sign.js');
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    files.set('model.onnx', Buffer.from('this is not a protobuf'));
    files.delete('manifest.json');
    files.delete('manifest.sig');
    const resigned = assembleBundle({ ...manifest, files: undefined }, files, keys.privatePem);
    const e = await refusal(resigned, 'not-onnx');
    expect(e.code).toBe('model-load');
    expect(e.message).toMatch(/^model\.onnx cannot be loaded by onnxruntime: .+/);
  });

  it('refuses a manifest that breaks the schema, naming the field', async () => {
    const files = makeBundle({ version: '1.4.0' }, keys.privatePem);
    const { assembleBundle } = await import('../../scripts/bundle-tools/sign.js');
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    files.delete('manifest.json');
    files.delete('manifest.sig');
    const resigned = assembleBundle({ ...manifest, task: 'everything', files: undefined }, files, keys.privatePem);
    const e = await refusal(resigned, 'schema');
    expect(e.code).toBe('manifest');
    expect(e.message).toBe('manifest.json does not follow models/manifest.schema.json: /task must be equal to one of the allowed values');
  });
});
