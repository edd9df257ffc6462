/**
 * The scan service as the MES and the technician drive it: commands scoped by scan id, the device state it reports
 * for the retained status (idle → scanning → paused → faulted → aborting → idle), and queue priority. The scan itself
 * is a runner that holds at the engine's checkpoints until the test releases it, so every transition is observed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/kernel/logger.js';
import { ScanAborted, type ScanControl } from '../../src/scan/control.js';
import type { ScanResult } from '../../src/scan/engine.js';
import { parseRecipe } from '../../src/scan/recipe.js';
import type { ScanDeps } from '../../src/scan/run.js';
import { ScanCommandRefused, ScanService, type ServiceState } from '../../src/scan/service.js';
import { assertRecipeFits } from '../../src/scan/recipe-check.js';
import { until } from '../support/daemon.js';

const recipe = parseRecipe({ id: 'r', version: '1', outline: { xUm: 0, yUm: 0, widthUm: 1000, heightUm: 1000 } }, 'test recipe');

interface Rig {
  service: ScanService;
  states: ServiceState[];
  started: string[];
  release(scanId: string): void;
  controls: Map<string, ScanControl>;
}

let rig: Rig | null = null;

function makeRig(extra: { check?: (r: typeof recipe) => void; recipes?: Record<string, typeof recipe> } = {}): Rig {
  const released = new Set<string>();
  const started: string[] = [];
  const controls = new Map<string, ScanControl>();
  const runner = async (_deps: ScanDeps, job: { scanId: string }, control: ScanControl): Promise<ScanResult> => {
    started.push(job.scanId);
    controls.set(job.scanId, control);
    control.set('running');
    let state: 'finished' | 'aborted' = 'finished';
    try {
      while (!released.has(job.scanId)) {
        await control.checkpoint();
        await new Promise((r) => setTimeout(r, 2));
      }
      control.set('finished');
    } catch (err) {
      if (!(err instanceof ScanAborted)) throw err;
      state = 'aborted';
      control.set('aborted', control.reason);
    }
    return {
      summary: { state, pass: true, verdict: 'pass', confirmed: 0, reasons: [] },
      defects: [],
      targets: [],
      outcomes: [],
      candidates: [],
      resumed: false,
    } as unknown as ScanResult;
  };
  const service = new ScanService({
    stateDir: mkdtempSync(join(tmpdir(), 'smartscope-service-')),
    deps: () => ({}) as ScanDeps,
    recipe: (id) => {
      const r = id === 'r' ? recipe : extra.recipes?.[id];
      if (!r) throw new Error(`no recipe "${id}"`);
      return r;
    },
    ...(extra.check ? { check: extra.check } : {}),
    logger: createLogger({ level: 'silent' }),
    runScan: runner,
  });
  const states: ServiceState[] = [];
  service.on('device-state', (s: ServiceState) => states.push(s));
  service.start();
  return { service, states, started, release: (id) => released.add(id), controls };
}

afterEach(async () => {
  await rig?.service.stop();
  rig = null;
});

const running = (r: Rig, scanId: string): Promise<true> =>
  until(`scan ${scanId} running`, () => (r.controls.get(scanId)?.state === 'running' ? true : null), 10_000, 5);

describe('scan commands scoped by scan id', () => {
  it('refuses pause, resume and abort for a scan that is not the running one, and leaves the running scan alone', async () => {
    rig = makeRig();
    const r = rig;
    const job = r.service.enqueue({ sampleId: 'S-1', recipeId: 'r' });
    await running(r, job.scanId);
    expect(() => r.service.abort('wrong sample', 'scan-does-not-exist')).toThrow(ScanCommandRefused);
    expect(() => r.service.abort('wrong sample', 'scan-does-not-exist')).toThrow(/"scan-does-not-exist" is not the running scan .*S-1/);
    expect(() => r.service.pause('scan-does-not-exist')).toThrow(/is not the running scan/);
    expect(r.controls.get(job.scanId)!.state).toBe('running');
    // The named scan: acted on.
    expect(r.service.pause(job.scanId).state).toBe('paused');
    expect(() => r.service.resume('scan-other')).toThrow(/is not the running scan/);
    expect(r.controls.get(job.scanId)!.state).toBe('paused');
    expect(() => r.service.pause(job.scanId)).toThrow(/is paused, not running: nothing to pause/);
    expect(r.service.resume(job.scanId).state).toBe('running');
    expect(() => r.service.resume()).toThrow(/is running, not paused/);
    expect(r.service.abort('operator', job.scanId).state).toBe('aborting');
    await until('the queue is idle', () => (r.service.status().state === 'idle' && r.service.status().last?.state === 'aborted' ? true : null), 10_000, 5);
    expect(() => r.service.abort('late', job.scanId)).toThrow(new ScanCommandRefused(`no scan is running (asked to abort "${job.scanId}")`));
    expect(() => r.service.pause()).toThrow('no scan is running');
  });
});

describe('device state for the retained status', () => {
  it('reports every transition: idle → scanning → paused → scanning → faulted → scanning → aborting → scanning (next) → idle', async () => {
    rig = makeRig();
    const r = rig;
    await until('idle reported', () => (r.states.at(-1)?.state === 'idle' ? true : null), 10_000, 5);
    const a = r.service.enqueue({ sampleId: 'S-1', recipeId: 'r' });
    const b = r.service.enqueue({ sampleId: 'S-2', recipeId: 'r' });
    await running(r, a.scanId);
    r.service.pause(a.scanId);
    r.service.resume(a.scanId);
    r.controls.get(a.scanId)!.fault('stage disconnected');
    r.service.resume(a.scanId);
    r.service.abort('wrong sample', a.scanId);
    await running(r, b.scanId);
    r.release(b.scanId);
    await until('idle again', () => (r.states.at(-1)?.state === 'idle' && r.started.length === 2 ? true : null), 10_000, 5);
    const seq = r.states.map((s) => `${s.state}${s.scanId ? `:${s.scanId === a.scanId ? 'a' : 'b'}` : ''}`);
    // Consecutive duplicates are queue-length updates (an enqueue while idle).
    const compact = seq.filter((s, i) => s !== seq[i - 1]);
    expect(compact).toEqual(['idle', 'scanning:a', 'paused:a', 'scanning:a', 'faulted:a', 'scanning:a', 'aborting:a', 'scanning:b', 'idle']);
    expect(r.states.find((s) => s.state === 'faulted')).toMatchObject({ message: 'stage disconnected', sampleId: 'S-1' });
    expect(r.states.find((s) => s.state === 'scanning' && s.scanId === a.scanId)!.queueLength).toBe(1);
    expect(r.states.at(-1)!.queueLength).toBe(0);
  });
});

describe('queue priority', () => {
  it('scans a high-priority sample before normal ones queued earlier', async () => {
    rig = makeRig();
    const r = rig;
    const first = r.service.enqueue({ sampleId: 'S-1', recipeId: 'r' });
    await running(r, first.scanId);
    const normal = r.service.enqueue({ sampleId: 'S-2', recipeId: 'r' });
    const urgent = r.service.enqueue({ sampleId: 'S-3', recipeId: 'r', priority: 'high' });
    expect(urgent.priority).toBe('high');
    r.release(first.scanId);
    await running(r, urgent.scanId);
    r.release(urgent.scanId);
    await running(r, normal.scanId);
    r.release(normal.scanId);
    expect(r.started).toEqual([first.scanId, urgent.scanId, normal.scanId]);
  });
});

describe('recipes checked against the instrument before a sample is accepted', () => {
  it('refuses an uncalibrated objective or an outline beyond stage travel with path and value, and queues nothing', () => {
    const limits = { x: { minUm: 0, maxUm: 100_000 }, y: { minUm: 0, maxUm: 75_000 }, z: { minUm: -500, maxUm: 500 } };
    const recipes = {
      'wrong-objective': parseRecipe(
        { id: 'wrong-objective', version: '1', outline: { xUm: 0, yUm: 0, widthUm: 1000, heightUm: 1000 }, zoom: { objective: '100x' } },
        'test',
      ),
      huge: parseRecipe({ id: 'huge', version: '1', outline: { xUm: 1000, yUm: 0, widthUm: 300_000, heightUm: 300_000 } }, 'test'),
    };
    rig = makeRig({ recipes, check: (r) => assertRecipeFits(r, { objectives: ['5x', '50x'], limits }, `recipes/${r.id}.yaml`) });
    const r = rig;
    expect(() => r.service.enqueue({ sampleId: 'S-1', recipeId: 'wrong-objective' })).toThrow(
      /recipe "wrong-objective" \(recipes\/wrong-objective.yaml\) cannot run on this instrument[\s\S]*zoom\.objective[\s\S]*"100x"[\s\S]*5x, 50x/,
    );
    expect(() => r.service.enqueue({ sampleId: 'S-2', recipeId: 'huge' })).toThrow(/outline\.widthUm[\s\S]*300000[\s\S]*at most 99000 µm/);
    expect(() => r.service.enqueue({ sampleId: 'S-2', recipeId: 'huge' })).toThrow(/outline\.heightUm[\s\S]*at most 75000 µm/);
    expect(r.service.status().queued).toEqual([]);
    expect(r.service.enqueue({ sampleId: 'S-3', recipeId: 'r' }).sampleId).toBe('S-3');
  });
});
