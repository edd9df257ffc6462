import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/kernel/validate.js';
import { bundleDir, modelsDir } from '../../src/inference/factory.js';
import { shippedModelsDir } from '../../src/inference/manifest.js';

function problems(data: unknown): string[] {
  try {
    parseConfig(data, 'test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${JSON.stringify(i.value)} — ${i.expected}`);
    throw e;
  }
  return [];
}

describe('inference config', () => {
  it('defaults to the shipped survey and zoom bundles on the CPU', () => {
    const c = parseConfig({}).inference;
    expect(c).toMatchObject({
      modelsDir: '',
      survey: 'survey',
      zoom: 'zoom',
      providers: ['cpu'],
      intraOpThreads: 2,
      tileOverlap: 32,
      maxQueued: 4,
      warmup: true,
      thresholds: {},
      tensorRt: { cacheDir: '/var/lib/smartscope/trt-cache', precision: 'fp16' },
    });
    expect(modelsDir(c)).toBe(shippedModelsDir());
    expect(bundleDir(c, 'zoom')).toBe(`${shippedModelsDir()}/zoom`);
    expect(bundleDir({ modelsDir: '/srv/models' }, 'survey')).toBe('/srv/models/survey');
    expect(bundleDir(c, '/opt/bundles/x')).toBe('/opt/bundles/x');
  });

  it('names the field and value of a bad setting', () => {
    expect(problems({ inference: { providers: ['tensorrt', 'gpu'] } })).toEqual(['inference.providers[1]: "gpu" — one of "tensorrt", "cuda", "cpu"']);
    expect(problems({ inference: { providers: [] } })[0]).toMatch(/^inference\.providers: \[\] — /);
    expect(problems({ inference: { thresholds: { survey: 1.5 } } })[0]).toMatch(/^inference\.thresholds\.survey: 1\.5 — a number <= 1/);
    expect(problems({ inference: { zoom: 'My Zoom' } })[0]).toMatch(/^inference\.zoom: "My Zoom" — /);
    expect(problems({ inference: { zoom: './bundles/my-zoom', survey: '/srv/models/survey-b' } })).toEqual([]);
    expect(problems({ inference: { intraOpThreads: 0 } })).toEqual([
      'inference.intraOpThreads: 0 — a number >= 1 (Threads ORT uses inside one inference (per model))',
    ]);
  });
});
