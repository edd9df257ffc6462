import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { Dataset } from '../../src/datasets/dataset.js';
import { connectedComponentsJs } from '../../src/geometry/regions.js';

describe('dataset export', () => {
  it('writes tiles, class masks, defect lists and a manifest that the dataset reader reads back', async () => {
    const out = mkdtempSync(join(tmpdir(), 'smartscope-export-'));
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      const code = await main([
        'node',
        'smartscope',
        'dataset',
        'export',
        '--out',
        out,
        '--count',
        '12',
        '--samples',
        '3',
        '--tile',
        '128',
        '--sample-size',
        '2000',
        '--json',
      ]);
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const summary = JSON.parse(printed.trim());
    expect(summary).toMatchObject({ tiles: 12, groups: 3, objective: '5x', tilePx: 128, classes: ['scratch', 'pit', 'particle', 'crack'] });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.format).toBe('smartscope-twin');
    expect(new Set(manifest.tiles.map((t: { group: string }) => t.group)).size).toBe(3);
    const ds = Dataset.open(out);
    expect(ds.entries).toHaveLength(12);
    let labelled = 0;
    for (const [i, e] of ds.entries.entries()) {
      const img = await ds.load(e);
      expect(img.maxValue).toBe(4095);
      expect(Math.max(...img.pixels)).toBeLessThanOrEqual(4095);
      const defects = JSON.parse(readFileSync(join(out, manifest.tiles[i].defects), 'utf8')) as Array<{ classId: number; bboxPx: number[] }>;
      // Every labelled object lies inside a listed defect's box of the same class.
      for (const r of connectedComponentsJs(img.mask, img.width, img.height).regions) {
        labelled++;
        const { x, y, width: w, height: h } = r.bbox;
        const owner = defects.find(
          (d) =>
            d.classId === r.value &&
            x >= d.bboxPx[0]! - 2 &&
            y >= d.bboxPx[1]! - 2 &&
            x + w <= d.bboxPx[0]! + d.bboxPx[2]! + 2 &&
            y + h <= d.bboxPx[1]! + d.bboxPx[3]! + 2,
        );
        expect(owner, `${e.name}: region of class ${r.value} at ${JSON.stringify(r.bbox)} is in no listed defect`).toBeDefined();
      }
    }
    expect(labelled).toBeGreaterThan(0);
    expect(existsSync(join(out, 'images', `${manifest.tiles[0].name}.png`))).toBe(true);
  });

  it('rejects bad options with the option and value named, exit code 2', async () => {
    const err = process.stderr.write;
    let printed = '';
    process.stderr.write = ((s: string) => ((printed += s), true)) as typeof process.stderr.write;
    try {
      expect(await main(['node', 'smartscope', 'dataset', 'export', '--out', '/tmp/x', '--count', 'many'])).toBe(2);
      expect(await main(['node', 'smartscope', 'dataset', 'export', '--out', '/tmp/x', '--density', '0.5'])).toBe(2);
    } finally {
      process.stderr.write = err;
    }
    expect(printed).toContain('--count must be an integer in [1, 1000000], got "many"');
    expect(printed).toContain('--density must be a number in [0.0005, 0.05], got "0.5"');
  });
});
