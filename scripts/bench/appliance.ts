/**
 * bench:appliance — what the appliance layer costs, each figure against a baseline measured in the same run:
 *   - records: tiles (each with 2 defects) written per second, one transaction per tile (production), against the
 *     same rows written with one transaction per row;
 *   - model install: verify (signature, hashes, ONNX load, golden set) + atomic install of a 1 MB bundle, against
 *     just hashing and durably copying its bytes;
 *   - hot swap: the longest gap between frames while a new model loads and warms up, against the median gap.
 * Prints one JSON object as its last line.
 */
import { copyFileSync, closeSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle } from '../../src/bundles/bundle-source.js';
import { loadTrustedKeys } from '../../src/bundles/keys.js';
import { ModelSlot } from '../../src/bundles/model-slot.js';
import { OrtWorkerModel } from '../../src/bundles/ort-worker-model.js';
import { ModelStore } from '../../src/bundles/store.js';
import { verifyBundle } from '../../src/bundles/verify.js';
import { daemonActor } from '../../src/kernel/actor.js';
import { Records } from '../../src/records/records.js';
import { makeBundle, makeTrustedKey, writeBundleTar } from '../../test/support/bundles.js';

const dir = mkdtempSync(join(tmpdir(), 'smartscope-bench-'));
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;

function benchRecords(): { tilesPerS: number; baselineTilesPerS: number } {
  const tiles = 400;
  const run = (perRow: boolean): number => {
    const path = join(dir, `records-${perRow ? 'row' : 'tile'}.db`);
    const r = Records.open({ path });
    r.ensureSample('S', 'bench');
    r.startScan({ id: 'scan', sampleId: 'S', device: 'bench', softwareVersion: '0' });
    const tileSql = r.db.prepare("INSERT INTO tiles (scan_id, phase, seq, x_um, y_um, captured_at, detections) VALUES ('scan', 'survey', ?, ?, 0, ?, 2)");
    const defSql = r.db.prepare(
      "INSERT INTO defects (uid, scan_id, tile_id, class, confidence, x_um, y_um, created_at) VALUES (?, 'scan', ?, 'pit', 0.9, ?, 0, ?)",
    );
    const t0 = performance.now();
    for (let s = 0; s < tiles; s++) {
      const defects = [0, 1].map((k) => ({ uid: `${s}-${k}`, class: 'pit', confidence: 0.9, xUm: s + k, yUm: 0 }));
      if (perRow) {
        const at = new Date().toISOString();
        const id = Number(tileSql.run(s, s, at).lastInsertRowid);
        for (const d of defects) defSql.run(d.uid, id, d.xUm, at);
      } else {
        r.recordTile('scan', { phase: 'survey', seq: s, xUm: s, yUm: 0 }, defects);
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    r.close();
    return tiles / seconds;
  };
  const baselineTilesPerS = run(true);
  const tilesPerS = run(false);
  return { tilesPerS, baselineTilesPerS };
}

async function benchInstall(): Promise<{ installMs: number; baselineMs: number }> {
  const keys = makeTrustedKey(dir);
  // 4 golden cases of 256² tiles: about 1 MB of bundle, the size of a small U-Net's.
  const tar = writeBundleTar(makeBundle({ version: '1.0.0', size: 256, goldenCases: 4 }, keys.privatePem), join(dir, 'bench.tar'));
  const trusted = loadTrustedKeys(keys.trustedDir).keys;
  const runs = 5;
  const base: number[] = [];
  const inst: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    const src = readBundle(tar);
    for (const data of src.files.values()) createHash('sha256').update(data).digest();
    copyFileSync(tar, join(dir, 'copy.tar'));
    const fd = openSync(join(dir, 'copy.tar'), 'r');
    fsyncSync(fd);
    closeSync(fd);
    base.push(performance.now() - t0);
    t0 = performance.now();
    const store = new ModelStore(join(dir, `models-${i}`), { keep: 3, trustedKeys: trusted, trustedKeysDir: keys.trustedDir });
    store.recover();
    const v = await verifyBundle(readBundle(tar), { trustedKeys: trusted, trustedKeysDir: keys.trustedDir });
    store.install(v, daemonActor());
    inst.push(performance.now() - t0);
  }
  return { installMs: median(inst), baselineMs: median(base) };
}

async function benchSwap(): Promise<{ medianGapMs: number; swapMaxGapMs: number; frames: number }> {
  const keys = makeTrustedKey(join(dir, 'swap'));
  const store = new ModelStore(join(dir, 'swap-models'), { keep: 3, trustedKeys: loadTrustedKeys(keys.trustedDir).keys, trustedKeysDir: keys.trustedDir });
  store.recover();
  const trusted = loadTrustedKeys(keys.trustedDir).keys;
  for (const [version, scale] of [
    ['1.0.0', 1],
    ['1.1.0', 2],
  ] as const) {
    const tar = writeBundleTar(makeBundle({ version, scale, size: 256 }, keys.privatePem), join(dir, `swap-${version}.tar`));
    store.install(await verifyBundle(readBundle(tar), { trustedKeys: trusted, trustedKeysDir: keys.trustedDir }), daemonActor(), version === '1.0.0');
  }
  const slot = new ModelSlot<OrtWorkerModel>('zoom', (a) => OrtWorkerModel.open(a), {
    warmupRuns: 2,
    probation: { durationS: 0, minFrames: 1, maxErrorRate: 1, maxLatencyRatio: 100, minDetectionRatio: 0, maxDetectionRatio: 1000 },
  });
  await slot.swapTo(store.resolveActive('zoom', daemonActor())!, false);
  const tile = new Float32Array(256 * 256).map((_, i) => Math.sin(i));
  const gaps: number[] = [];
  let last = performance.now();
  const frame = async (): Promise<void> => {
    await slot.use((m) => m.run(tile.slice(), [1, 1, 256, 256]));
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  };
  for (let i = 0; i < 100; i++) await frame();
  const steady = median(gaps);
  gaps.length = 0;
  const swap = (async () => {
    store.activate('tiny-seg@1.1.0', daemonActor());
    await slot.swapTo(store.resolveActive('zoom', daemonActor())!, false);
  })();
  let done = false;
  void swap.then(() => (done = true));
  while (!done) await frame();
  for (let i = 0; i < 10; i++) await frame();
  await slot.close();
  return { medianGapMs: steady, swapMaxGapMs: Math.max(...gaps), frames: gaps.length };
}

const records = benchRecords();
const install = await benchInstall();
const swap = await benchSwap();
rmSync(dir, { recursive: true, force: true });
const out = {
  records_tiles_per_s: Math.round(records.tilesPerS),
  records_baseline_row_commits_tiles_per_s: Math.round(records.baselineTilesPerS),
  records_speedup_x: +(records.tilesPerS / records.baselineTilesPerS).toFixed(2),
  model_install_ms: +install.installMs.toFixed(1),
  model_install_baseline_hash_copy_ms: +install.baselineMs.toFixed(1),
  model_install_over_baseline_x: +(install.installMs / install.baselineMs).toFixed(2),
  swap_max_frame_gap_ms: +swap.swapMaxGapMs.toFixed(2),
  frame_gap_median_ms: +swap.medianGapMs.toFixed(2),
  swap_gap_over_median_x: +(swap.swapMaxGapMs / swap.medianGapMs).toFixed(2),
  swap_frames_during: swap.frames,
};
console.log(JSON.stringify(out));
