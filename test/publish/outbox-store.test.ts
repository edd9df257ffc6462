import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { FileStore } from '../../src/publish/outbox/file-store.js';
import { MemoryStore } from '../../src/publish/outbox/memory-store.js';
import { describeOutboxStore } from '../contracts/outbox-store.contract.js';

const root = mkdtempSync(join(tmpdir(), 'outbox-contract-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let dir = '';

describeOutboxStore('FileStore', {
  create: (capBytes = 16 << 20) => {
    dir = join(root, String(n++));
    return new FileStore({ dir, capBytes, segmentBytes: 64 * 1024, metaDelayMs: 20 });
  },
  reopen: (capBytes = 16 << 20) => new FileStore({ dir, capBytes, segmentBytes: 64 * 1024, metaDelayMs: 20 }),
  tearTail: async (bytes) => {
    const segs = readdirSync(dir)
      .filter((f) => f.startsWith('seg-'))
      .sort();
    appendFileSync(join(dir, segs[segs.length - 1]!), bytes);
  },
});

describeOutboxStore('MemoryStore', { create: (capBytes) => new MemoryStore(capBytes) });
