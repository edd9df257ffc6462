/**
 * The web page in a real browser (Debian's chromium, headless, driven by puppeteer-core) during a twin scan: the
 * mosaic grows, a defect appears and opens, pause and resume work when signed in and are refused when not, a review
 * is stored. Screenshots go to test-artifacts/web/ (git-ignored).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, FrameSource } from '../../src/camera/frame-source.js';
import { parseConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { ScanControl } from '../../src/scan/control.js';
import { runScan, type ScanResult } from '../../src/scan/engine.js';
import { hashSecret } from '../../src/web/auth.js';
import type { WebConfig } from '../../src/web/config.js';
import { WebPage } from '../../src/web/page.js';
import { startTwinWeb, type TwinWeb } from '../../src/appliance/twin-web.js';
import { Dataset } from '../../src/datasets/dataset.js';
import { exportReviewed } from '../../src/records/reviewed-export.js';
import { scanRig, type ScanRig } from '../support/scan-rig.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'web');

/** The camera with a gate: once closed, grabs wait until it opens again (the test holds the scan at a known point). */
function gatedCamera(camera: FrameSource): { camera: FrameSource; close(): void; open(): void; waiting(): boolean } {
  let gate: Promise<void> | null = null;
  let release: (() => void) | null = null;
  let blocked = false;
  const grab = async (opts?: Parameters<FrameSource['grab']>[0]): Promise<Frame> => {
    while (gate) {
      blocked = true;
      await gate;
    }
    blocked = false;
    return camera.grab(opts);
  };
  const proxy = new Proxy(camera, {
    get: (t, p) =>
      p === 'grab' ? grab : typeof Reflect.get(t, p) === 'function' ? (Reflect.get(t, p) as (...a: unknown[]) => unknown).bind(t) : Reflect.get(t, p),
  });
  return {
    camera: proxy,
    close: () => {
      gate ??= new Promise((r) => (release = r));
    },
    open: () => {
      gate = null;
      release?.();
    },
    waiting: () => blocked,
  };
}

async function until(what: string, f: () => boolean | Promise<boolean>, page?: Page): Promise<void> {
  for (let i = 0; ; i++) {
    if (await f()) return;
    if (i > 6000) throw new Error(`timed out waiting for ${what}`);
    await (page ? new Promise((r) => setTimeout(r, 20)) : new Promise((r) => setImmediate(r)));
  }
}

describe.skipIf(!existsSync(CHROMIUM))('web page in a browser during a twin scan', () => {
  let rig: ScanRig;
  let web: TwinWeb;
  let browser: Browser;
  let page: Page;
  let dir: string;
  let config: WebConfig;
  const gate = { current: null as ReturnType<typeof gatedCamera> | null };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(tmpdir(), 'smartscope-web-ui-'));
    rig = await scanRig({ stateDir: dir, density: 0.008 });
    config = parseConfig({ web: { port: 0, auth: { passwordHash: hashSecret('qc-password') } } }).web as WebConfig;
    web = await startTwinWeb({ config, stateDir: dir, logger: silentLogger(), device: 'site1/line1/scope1' });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    await rig?.close();
  });

  it('shows the scan as it happens; pause and resume only when signed in; opens and reviews a defect', async () => {
    await page.goto(web.url, { waitUntil: 'load' });
    await page.waitForFunction(() => document.body.dataset.signedIn === 'false');
    // Not signed in: no controls, and the server refuses the action itself.
    expect(await page.$eval('#controls', (e) => (e as HTMLElement).hidden)).toBe(true);
    const refused = await page.evaluate(
      async () => (await fetch('/api/control/pause', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status,
    );
    expect(refused).toBe(401);

    const g = gatedCamera(rig.deps.camera);
    gate.current = g;
    const control = new ScanControl();
    web.attach(control);
    let firstTiles = 0;
    const deps = web.wrapDeps({
      ...rig.deps,
      camera: g.camera,
      recorder: undefined,
    });
    // Hold the scan after its second survey field is recorded, so the page can be checked mid-scan.
    const recorder = deps.recorder!;
    deps.recorder = {
      ...recorder,
      surveyTile: (ctx, t) => {
        recorder.surveyTile(ctx, t);
        if (++firstTiles === 2) g.close();
      },
    };
    const scan: Promise<ScanResult> = runScan(deps, { scanId: 'scan-web-1', sampleId: 'S-web', lot: 'L-9', recipe: rig.recipe }, control);

    await page.waitForFunction(() => Number(document.getElementById('mosaic')!.dataset.tiles) >= 2, { timeout: 120_000 });
    await until('the scan to wait at the gate', () => g.waiting());
    // The live view shows a camera frame, with the objective and stage position it was taken at.
    await page.waitForFunction(() => (document.getElementById('live') as HTMLImageElement).naturalWidth > 0);
    await page.waitForFunction(() => / µm · frame \d+$/.test(document.getElementById('live-info')!.textContent ?? ''));
    await page.screenshot({ path: join(ARTIFACTS, 'mid-scan-1280x800.png') });

    // Sign in through the form; the controls appear.
    await page.type('#user', 'Dana QC');
    await page.type('#password', 'qc-password');
    await page.click('#sign-in button[type=submit]');
    await page.waitForFunction(() => document.body.dataset.signedIn === 'true');
    expect(await page.$eval('#controls', (e) => (e as HTMLElement).hidden)).toBe(false);

    await page.click('#controls button[data-cmd=pause]');
    await until('the scan to be paused', () => control.state === 'paused');
    await page.waitForFunction(() => document.getElementById('scan-state')!.textContent === 'paused', { timeout: 60_000 });
    g.open();
    await page.click('#controls button[data-cmd=resume]');
    await page.waitForFunction(() => document.getElementById('scan-state')!.textContent === 'running', { timeout: 60_000 });

    // Defects appear on the page as the scan confirms them.
    await page.waitForFunction(() => Number(document.getElementById('mosaic')!.dataset.defects) >= 1, { timeout: 180_000 });
    const result = await scan;
    expect(result.summary.state).toBe('finished');
    await page.waitForFunction((n) => Number(document.getElementById('mosaic')!.dataset.defects) === n, { timeout: 60_000 }, result.defects.length);
    await page.waitForFunction(() => /finished/.test(document.getElementById('scan-state')!.textContent ?? ''), { timeout: 60_000 });
    expect(await page.$eval('#time-split', (e) => e.textContent)).toMatch(/^instrument time \d/);
    const tiles = await page.$eval('#mosaic', (e) => Number((e as HTMLElement).dataset.tiles));
    expect(tiles).toBe(result.summary.surveyFields);
    await page.screenshot({ path: join(ARTIFACTS, 'finished-1280x800.png') });

    // The commands went through the scan control's command records, with who did them.
    const cmds = web.records.db.prepare('SELECT user, via, command, outcome FROM operator_commands ORDER BY id').all();
    expect(cmds).toEqual([
      { user: 'Dana QC', via: 'web', command: 'scan-pause', outcome: 'ok' },
      { user: 'Dana QC', via: 'web', command: 'scan-resume', outcome: 'ok' },
    ]);

    // Gallery → detail → review.
    await page.goto(`${web.url}#defects`, { waitUntil: 'load' });
    await page.waitForSelector('#gallery .defect');
    const uid = await page.$eval('#gallery .defect', (e) => (e as HTMLElement).dataset.uid!);
    await page.click('#gallery .defect');
    await page.waitForFunction(() => (document.getElementById('detail') as HTMLDialogElement).open);
    await page.waitForFunction(() => {
      const img = document.getElementById('detail-image') as HTMLImageElement;
      return img.complete && img.naturalWidth > 0;
    });
    const facts = await page.$eval('#detail-facts', (e) => e.textContent ?? '');
    expect(facts).toMatch(/confidence\d+\.\d %/);
    expect(facts).toMatch(/size\d+\.\d µm/);
    expect(facts).toContain('survey@');
    expect(facts).toContain(uid);
    await page.screenshot({ path: join(ARTIFACTS, 'defect-1280x800.png') });
    await page.click('#review button[data-verdict=false]');
    await page.waitForFunction(() => /false/.test(document.getElementById('detail-reviews')!.textContent ?? ''));
    const reviews = web.records.reviewsOf(uid);
    expect(reviews.map((r) => [r.user, r.verdict])).toEqual([['Dana QC', 'false']]);
    expect(web.records.recentAudit(1)[0]).toMatchObject({ action: 'defect.review', subject: uid, user: 'Dana QC', via: 'web' });

    // A second defect reclassified to another class of the recipe.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !(document.getElementById('detail') as HTMLDialogElement).open);
    const second = await page.$$eval('#gallery .defect', (els) => (els[1] as HTMLElement).dataset.uid!);
    const modelClass = result.defects.find((d) => d.eventId === second)!.className;
    const corrected = rig.recipe.classes.find((c) => c !== modelClass)!;
    await page.click(`#gallery .defect[data-uid="${second}"]`);
    await page.waitForFunction(
      (u) => (document.getElementById('detail') as HTMLDialogElement).open && document.getElementById('detail')!.dataset.uid === u,
      {},
      second,
    );
    await page.select('#review-class', corrected);
    await page.click('#review button[data-verdict=reclassified]');
    await page.waitForFunction(() => /reclassified/.test(document.getElementById('detail-reviews')!.textContent ?? ''));

    // The reviews as labelled training data: crops with class masks, read back by the dataset reader.
    const out = join(mkdtempSync(join(tmpdir(), 'smartscope-reviewed-')), 'ds');
    const exp = await exportReviewed(web.records, out);
    expect(exp.skipped).toEqual([]);
    expect(exp.manifest.tiles.map((t) => [t.name, t.verdict, t.class, t.reviewedBy])).toEqual([
      [uid, 'false', null, 'Dana QC'],
      [second, 'reclassified', corrected, 'Dana QC'],
    ]);
    const ds = Dataset.open(out);
    const items = await Promise.all(ds.entries.map((e) => ds.load(e)));
    expect(items.map((i) => i.name)).toEqual([uid, second]);
    expect(items[0]!.mask.every((v) => v === 0)).toBe(true);
    const id = ds.classes.indexOf(corrected) + 1;
    expect(new Set(items[1]!.mask)).toEqual(new Set([0, id]));

    // A page started later (nothing in memory) draws the defect's recorded outline on its crop from the records.
    const later = new WebPage(config, silentLogger());
    const laterUrl = await later.listen({ records: web.records, servedRoots: [dir] });
    try {
      const img = await fetch(`${laterUrl}api/defects/${second}/image.jpg`);
      expect([img.status, img.headers.get('content-type')]).toEqual([200, 'image/jpeg']);
      const detail = (await (await fetch(`${laterUrl}api/defects/${second}`)).json()) as { record: { class: string; reviews: unknown[] } };
      expect(detail.record.class).toBe(modelClass);
      expect(detail.record.reviews).toHaveLength(1);
    } finally {
      await later.close();
    }

    // History from the records, and a phone-sized screen.
    await page.keyboard.press('Escape');
    await page.goto(`${web.url}#history`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.querySelectorAll('#history tbody tr').length === 1);
    expect(await page.$eval('#history tbody', (e) => e.textContent)).toContain('S-web');
    await page.screenshot({ path: join(ARTIFACTS, 'history-1280x800.png') });
    await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
    await page.goto(`${web.url}#now`, { waitUntil: 'load' });
    await page.waitForFunction(() => Number(document.getElementById('mosaic')!.dataset.tiles) > 0);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'now-phone-390x844.png'), fullPage: true });
    await page.goto(`${web.url}#defects`, { waitUntil: 'load' });
    await page.waitForSelector('#gallery .defect');
    await page.screenshot({ path: join(ARTIFACTS, 'defects-phone-390x844.png'), fullPage: true });
  }, 600_000);
});
