// Inside `unshare -n`: the FrameSource contract against arv-fake-gv-camera-0.8 on 127.0.0.1, a GigE Vision camera
// speaking GVCP/GVSP over UDP. Each test starts its own camera process; disconnect() kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RealClock } from '../../../src/kernel/clock.js';
import { GenicamFrameSource } from '../../../src/camera/genicam-source.js';
import { frameSourceContract } from '../../contracts/frame-source.contract.js';

const interfaces = Object.keys(networkInterfaces());
if (interfaces.some((i) => i !== 'lo')) {
  // Never broadcast GigE discovery on a real network.
  throw new Error(`expected only loopback in this network namespace, found ${interfaces.join(', ')}`);
}

class FakeGigECamera {
  private proc: ChildProcess | null = null;

  async start(): Promise<void> {
    this.proc = spawn('arv-fake-gv-camera-0.8', ['-i', '127.0.0.1', '-s', 'GVCONTRACT'], { stdio: 'ignore' });
    // The camera answers GVCP once its socket is bound; opening retries discovery until then.
    await new Promise((r) => setTimeout(r, 300));
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGKILL');
    await once(p, 'exit');
  }
}

frameSourceContract(
  'GenICam: fake GigE Vision camera over loopback',
  async () => {
    const camera = new FakeGigECamera();
    await camera.start();
    const source = new GenicamFrameSource({ id: '127.0.0.1', pixelFormat: 'Mono16', width: 320, height: 240, poolSize: 3, exposureUs: 2000 });
    return {
      source,
      clock: new RealClock(),
      poolSize: 3,
      disconnect: () => camera.stop(),
      reconnect: () => camera.start(),
      cleanup: async () => {
        await source.close();
        await camera.stop();
      },
    };
  },
  { exhaustedTimeoutMs: 1500, disconnectTimeoutMs: 20_000 },
);

describe('GigE Vision transport', () => {
  it('streams into pool memory and reports packet counters', async () => {
    const camera = new FakeGigECamera();
    await camera.start();
    const source = new GenicamFrameSource({ id: '127.0.0.1', pixelFormat: 'Mono8', width: 512, height: 512 });
    try {
      await source.open();
      expect(source.deviceInfo()).toMatchObject({ transport: 'gige', serial: 'GVCONTRACT', zeroCopy: true });
      for (let i = 0; i < 3; i++) {
        const f = await source.grab({ timeoutMs: 5000 });
        expect(source.ownsMemory(f.data)).toBe(true);
        f.release();
      }
      const s = source.stats();
      expect(s['stream.n_received_packets']).toBeGreaterThan(3);
      expect(s['stream.n_missing_packets']).toBe(0);
    } finally {
      await source.close();
      await camera.stop();
    }
  });
});
