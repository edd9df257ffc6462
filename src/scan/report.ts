/**
 * The report image: the whole sample as the survey saw it, with every confirmed defect boxed and labelled by class —
 * what a person looks at to judge a scan.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import type { ConfirmedDefect } from './ports.js';
import type { Recipe } from './recipe.js';
import type { OverviewTile } from './run.js';

const COLOURS = ['#ff3b30', '#ffcc00', '#34c759', '#0a84ff', '#bf5af2', '#ff9f0a', '#64d2ff'];

export async function writeReportImage(
  path: string,
  recipe: Recipe,
  tiles: OverviewTile[],
  umPerOverviewPx: number,
  offsetUm: [number, number],
  defects: ConfirmedDefect[],
  title: string,
): Promise<string> {
  const o = recipe.outline;
  const maxSide = 2048;
  const scale = Math.max(umPerOverviewPx, Math.max(o.widthUm, o.heightUm) / maxSide); // µm per report pixel
  const W = Math.max(64, Math.ceil(o.widthUm / scale));
  const H = Math.max(64, Math.ceil(o.heightUm / scale)) + 28;
  const canvas = new Uint8Array(W * H).fill(24);
  for (const t of tiles) {
    if (!t) continue;
    const k = umPerOverviewPx / scale;
    const cx = (t.pose.x + offsetUm[0] - o.xUm) / scale;
    const cy = (t.pose.y + offsetUm[1] - o.yUm) / scale + 28;
    const w = Math.round(t.width * k);
    const h = Math.round(t.height * k);
    const x0 = Math.round(cx - w / 2);
    const y0 = Math.round(cy - h / 2);
    for (let y = 0; y < h; y++) {
      const yy = y0 + y;
      if (yy < 28 || yy >= H) continue;
      const sy = Math.min(t.height - 1, Math.floor(y / k));
      for (let x = 0; x < w; x++) {
        const xx = x0 + x;
        if (xx < 0 || xx >= W) continue;
        canvas[yy * W + xx] = t.pixels[sy * t.width + Math.min(t.width - 1, Math.floor(x / k))]!;
      }
    }
  }
  const classes = recipe.classes;
  const boxes = defects
    .map((d) => {
      const c = COLOURS[Math.max(0, classes.indexOf(d.className)) % COLOURS.length];
      const x = (d.bboxUm[0] - o.xUm) / scale - 3;
      const y = (d.bboxUm[1] - o.yUm) / scale + 28 - 3;
      const w = (d.bboxUm[2] - d.bboxUm[0]) / scale + 6;
      const h = (d.bboxUm[3] - d.bboxUm[1]) / scale + 6;
      return `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="${c}" stroke-width="2"/>`;
    })
    .join('');
  const legend = classes
    .map((c, i) => `<text x="${8 + i * 90}" y="20" font-family="sans-serif" font-size="14" fill="${COLOURS[i % COLOURS.length]}">■ ${escapeXml(c)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${boxes}${legend}<text x="${W - 8}" y="${H - 8}" text-anchor="end" font-family="sans-serif" font-size="14" fill="#ffffff">${escapeXml(title)}</text></svg>`;
  mkdirSync(dirname(path), { recursive: true });
  await sharp(canvas, { raw: { width: W, height: H, channels: 1 } })
    .toColourspace('srgb')
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: 85 })
    .toFile(path);
  return path;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch]!);
}
