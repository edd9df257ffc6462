/**
 * scripts/sign-bundle — keys and signed model bundles.
 *
 *   sign-bundle keygen --out DIR [--name NAME]     writes DIR/NAME.key (private, mode 600) and DIR/NAME.pub
 *   sign-bundle sign BUNDLE_DIR --key NAME.key [--out FILE.tar]
 *                                                  fills manifest.json's file list (sha256, size), writes manifest.sig,
 *                                                  and with --out packs the bundle into one .tar for technicians
 *
 * Copy NAME.pub into /etc/smartscope/trusted-keys/ on each microscope that should accept bundles signed by NAME.key.
 * Keep NAME.key off the microscopes.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateSigningKey } from '../src/bundles/keys.js';
import { packBundle, signBundleDir } from '../src/bundles/sign.js';

function usage(msg?: string): never {
  if (msg) process.stderr.write(`sign-bundle: ${msg}\n`);
  process.stderr.write('usage: sign-bundle keygen --out DIR [--name NAME]\n       sign-bundle sign BUNDLE_DIR --key FILE.key [--out FILE.tar]\n');
  process.exit(2);
}

const [cmd, ...rest] = process.argv.slice(2);
const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: { out: { type: 'string' }, name: { type: 'string' }, key: { type: 'string' } },
});

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
} else if (cmd === 'sign') {
  const dir = positionals[0];
  if (!dir || !values.key) usage('sign needs BUNDLE_DIR and --key FILE.key');
  const r = signBundleDir(dir, readFileSync(values.key, 'utf8'));
  if (values.out) writeFileSync(values.out, packBundle(r.files));
  process.stdout.write(`${JSON.stringify({ bundle: r.id, keyId: r.keyId, files: r.files.size, ...(values.out ? { archive: values.out } : {}) })}\n`);
} else {
  usage(cmd ? `unknown command ${cmd}` : undefined);
}
