import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { genicamAvailable } from '../../src/camera/genicam-source.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Report {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
}

describe.skipIf(!genicamAvailable())('GenICam over GigE Vision (fake camera on loopback, private network namespace)', () => {
  it('passes the FrameSource contract', async () => {
    // This process cannot change namespace: a child does, brings loopback up, and runs the suite in
    // test/camera/netns/ (which starts and kills the fake camera itself, inside the same namespace).
    const dir = mkdtempSync(path.join(tmpdir(), 'smartscope-gige-'));
    const report = path.join(dir, 'report.json');
    const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
    const script = `ip link set lo up && exec "${process.execPath}" "${vitest}" run --config test/camera/netns/vitest.config.ts --reporter=json --outputFile="${report}"`;
    const child = spawn('unshare', ['-n', 'sh', '-c', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    type Result = Report & { testResults: Array<{ assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }> };
    let r: Result;
    try {
      r = JSON.parse(readFileSync(report, 'utf8')) as Result;
    } catch {
      throw new Error(`the namespaced suite wrote no report (exit ${code}):\n${output}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const failures = r.testResults.flatMap((f) =>
      f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${a.fullName}: ${a.failureMessages.join('\n')}`),
    );
    expect(failures, output).toEqual([]);
    expect(r.numFailedTests).toBe(0);
    expect(r.numPassedTests).toBe(11); // the ten contract tests (disconnect included) and the transport test
    expect(code).toBe(0);
  }, 240_000);
});
