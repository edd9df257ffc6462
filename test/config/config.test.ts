import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/kernel/validate.js';

function problems(data: unknown): string[] {
  try {
    parseConfig(data, 'test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.issues.map((i) => `${i.path}: ${JSON.stringify(i.value)} — ${i.expected}`);
    throw e;
  }
  return [];
}

describe('config', () => {
  it('fills every default when the file is empty', () => {
    const c = parseConfig({});
    expect(c.twin.objectives.map((o) => o.name)).toEqual(['5x', '50x']);
    expect(c.twin.sample.defectDensity).toBe(0.005);
    expect(c.device).toEqual({ site: 'site1', line: 'line1', id: 'scope1' });
  });

  it('names the path, value and expectation of each mistake', () => {
    expect(problems({ twin: { sample: { defectDensity: 0.5 } } })).toEqual([
      'twin.sample.defectDensity: 0.5 — a number <= 0.05 (Area fraction covered by defects (synthetic))',
    ]);
    expect(problems({ twin: { stage: { x: { maxSpeedUmPerS: 'fast' } } } })).toEqual(['twin.stage.x.maxSpeedUmPerS: "fast" — number (µm/s) (Maximum x speed)']);
    expect(problems({ twinn: {} })[0]).toMatch(/^twinn: \{\} — no such setting here \(unknown key "twinn"; allowed: device, logging, twin/);
    expect(problems({ twin: { sample: { kind: 'photo' } } })).toEqual([
      'twin.sample.kind: "photo" — one of "synthetic", "image" (Synthetic texture with generated defects, or real micrographs with their label masks)',
    ]);
    expect(problems({ twin: { objectives: [{ name: '5x' }] } })).toEqual([
      'twin.objectives[0].magnification: undefined — a value (this setting is required) (One objective on the turret)',
      'twin.objectives[0].numericalAperture: undefined — a value (this setting is required) (One objective on the turret)',
    ]);
    expect(problems({ device: { id: 'has space' } })[0]).toContain('device.id: "has space" — a string matching ^[A-Za-z0-9_-]+$');
  });

  it('reports unreadable files and bad YAML with the file named', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-cfg-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'twin: [unclosed\n');
    expect(() => loadConfigFile(bad)).toThrow(/bad\.yaml: 1 problem\n {2}- \(top level\): missing — expected valid YAML/);
    expect(() => loadConfigFile(join(dir, 'none.yaml'))).toThrow('expected a readable YAML file (ENOENT)');
    const dup = join(dir, 'dup.yaml');
    writeFileSync(dup, 'device:\n  id: a\ndevice:\n  id: b\n');
    expect(() => loadConfigFile(dup)).toThrow(/valid YAML/);
  });
});
