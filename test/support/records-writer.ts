/**
 * A scan writer for the power-cut test: records the tiles of one scan (with defects and images) and resumes after the
 * last complete tile when the scan was interrupted. Prints "tile <seq>" after each commit and "done" at the end.
 * Usage: node --import tsx records-writer.ts DB IMAGES TILES
 */
import { ImageStore } from '../../src/records/images.js';
import { Records } from '../../src/records/records.js';

const [db, imagesDir, tilesArg] = process.argv.slice(2);
const tiles = Number(tilesArg);
const r = Records.open({ path: db! });
const images = new ImageStore(imagesDir!, r);
r.ensureSample('S1', 'power-cut sample');
r.registerCalibration('cal-1', '50x', { pixelSizeUm: 0.13 });
r.registerModel({ id: 'm@1.0.0', name: 'm', version: '1.0.0', role: 'zoom', manifestSha256: 'a'.repeat(64), keyId: 'k' });
let start = 0;
const unfinished = r.unfinishedScans().find((s) => s.id === 'scan-1');
if (unfinished) {
  start = unfinished.lastSeq.survey + 1;
  r.markResumed('scan-1');
} else if (!r.db.prepare("SELECT 1 FROM scans WHERE id = 'scan-1'").get()) {
  r.startScan({ id: 'scan-1', sampleId: 'S1', device: 'site1/line1/scope1', softwareVersion: '0.1.0', calibrationId: 'cal-1', zoomModelId: 'm@1.0.0' });
}
for (let seq = start; seq < tiles; seq++) {
  const img = images.put(Buffer.alloc(2048, seq % 251), { format: 'raw', width: 32, height: 64 });
  const n = seq % 4;
  const defects = Array.from({ length: n }, (_, k) => ({
    uid: `d-${seq}-${k}`,
    class: ['scratch', 'pit', 'particle'][k % 3]!,
    confidence: 0.9,
    xUm: seq * 10 + k,
    yUm: k,
    areaUm2: 12.5,
    calibrationId: 'cal-1',
  }));
  r.recordTile('scan-1', { phase: 'survey', seq, xUm: seq * 10, yUm: 0, objective: '50x', imageId: img.id, modelId: 'm@1.0.0' }, defects);
  process.stdout.write(`tile ${seq}\n`);
}
r.finishScan('scan-1', 'completed', { tiles });
r.close();
process.stdout.write('done\n');
