// Builds the native addon with node-gyp when its sources changed since the last build (or when the build is missing).
// Runs from package.json's "install" script and from scripts/bootstrap; a failed build fails loudly.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const dir = 'native';
if (!existsSync(join(dir, 'binding.gyp'))) {
  process.exit(0);
}
const hash = createHash('sha256');
hash.update(process.version + process.arch);
const walk = (d) => {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (name === 'build') continue;
    if (statSync(p).isDirectory()) walk(p);
    else hash.update(p).update(readFileSync(p));
  }
};
walk(dir);
// The Aravis backend is compiled in only where pkg-config finds it: a new install must rebuild.
const arv = spawnSync('pkg-config', ['--modversion', 'aravis-0.8'], { encoding: 'utf8' });
hash.update(arv.status === 0 ? arv.stdout : 'no-aravis');
const digest = hash.digest('hex');
const stamp = join(dir, 'build', '.source-hash');
const addon = join(dir, 'build', 'Release', 'smartscope.node');
if (existsSync(addon) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) process.exit(0);

console.log('build-native: node-gyp rebuild (native/)');
const gyp = spawnSync('npx', ['--no-install', 'node-gyp', 'rebuild', '--release', `--jobs=max`], {
  cwd: dir,
  stdio: 'inherit',
});
if (gyp.status !== 0) {
  console.error('build-native: node-gyp failed; see the compiler output above');
  process.exit(gyp.status ?? 1);
}
writeFileSync(stamp, digest);
