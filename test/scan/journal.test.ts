import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScanJournal } from '../../src/scan/journal.js';

describe('scan journal', () => {
  it('reads back typed records, dropping a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-journal-'));
    const j = new ScanJournal(dir, 's1');
    j.append({ t: 'focus', x: 1, y: 2, z: 3, objective: '5x' });
    j.append({ t: 'published', eventId: 'e1' });
    j.close();
    writeFileSync(join(dir, 's1.jsonl'), '{"t":"published","eventId":"e2"}\n{"t":"tile","ind', { flag: 'a' });
    const again = new ScanJournal(dir, 's1');
    expect(again.replayed).toEqual([
      { t: 'focus', x: 1, y: 2, z: 3, objective: '5x' },
      { t: 'published', eventId: 'e1' },
      { t: 'published', eventId: 'e2' },
    ]);
    expect(again.torn).toBe(1);
    again.close();
  });

  it('refuses a damaged journal, naming the line, field, value and expectation', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smartscope-journal-'));
    const path = join(dir, 's2.jsonl');
    writeFileSync(path, '{"t":"focus","x":1,"y":2,"z":"high","objective":"5x"}\n{"t":"tilt"}\n');
    expect(() => new ScanJournal(dir, 's2')).toThrow(
      `scan journal ${path}: 2 problems\n  - line 1.z: "high" — expected a number\n  - line 2.t: "tilt" — expected one of "begin", "focus", "tile", "targets", "target", "published", "state", "time", "end"`,
    );
  });
});
