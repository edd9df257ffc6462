import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { writeSmokeDataset } from '../support/twin-dataset.js';

const run = promisify(execFile);
const env = { ...process.env, PYTHONWARNINGS: 'ignore' };

describe('training pieces', () => {
  it('pass their Python unit tests (losses, augmentation, starting from a bundle)', async () => {
    const { stderr } = await run('/usr/bin/python3', ['test/train/test_pieces.py'], { env });
    expect(stderr).toMatch(/Ran \d+ tests[\s\S]*\nOK\n?$/);
  }, 120_000);

  it('resumes from its checkpoint to exactly the model an uninterrupted run gives, and fine-tunes the result', async () => {
    const root = mkdtempSync(join(tmpdir(), 'smartscope-train-resume-'));
    const data = join(root, 'data');
    await writeSmokeDataset(data);
    const common = [
      'scripts/train/train.py',
      '--preset',
      'smoke',
      '--dataset',
      data,
      '--threads',
      '1',
      '--epochs',
      '3',
      '--loss',
      'focal-lovasz',
      '--elastic',
      '2',
      '--scale-aug',
      '0.1',
      '--stain',
      '1',
    ];
    // The uninterrupted run also draws a learning curve (a run on half the training groups first): that must not
    // change the full run either.
    const straight = await run('/usr/bin/python3', [...common, '--out', join(root, 'straight'), '--learning-curve', '0.5'], { env });
    expect(straight.stdout).toMatch(/learning curve \(validation mean foreground IoU by training data\):\n +2 groups +\d+ images +[\d.]+[^\n]*\n +3 groups/);
    const ck = join(root, 'ck');
    const first = await run('/usr/bin/python3', [...common, '--out', join(root, 'resumed'), '--checkpoint', ck, '--stop-after', '1'], { env });
    expect(first.stdout).toContain('paused after epoch 1');
    const second = await run('/usr/bin/python3', [...common, '--out', join(root, 'resumed'), '--checkpoint', ck, '--resume'], { env });
    expect(second.stdout).toContain('resumed');
    const m = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'manifest.json'), 'utf8'));
    expect(m('resumed').model.sha256).toBe(m('straight').model.sha256);
    expect(m('resumed').training.history).toEqual(m('straight').training.history);
    expect(m('straight').training).toMatchObject({ loss: expect.stringContaining('Lovasz'), augmentation: expect.arrayContaining(['elastic 2 px']) });
    expect(m('straight').training.learningCurve).toHaveLength(2);

    const ft = await run(
      '/usr/bin/python3',
      [
        'scripts/train/train.py',
        '--fine-tune',
        join(root, 'straight'),
        '--preset',
        'smoke',
        '--dataset',
        data,
        '--threads',
        '1',
        '--epochs',
        '1',
        '--out',
        join(root, 'tuned'),
        '--name',
        'tuned',
      ],
      { env },
    );
    expect(ft.stdout).toMatch(/wrote .*tuned/);
    const t = m('tuned');
    expect(t.training.fineTunedFrom).toEqual({ name: 'smoke', version: '1.0.0', sha256: m('straight').model.sha256 });
    // The fine-tuned model keeps the normalisation its starting weights expect.
    expect(t.input.normalisation).toEqual(m('straight').input.normalisation);
  }, 300_000);
});
