/**
 * Scan control: pause / resume / abort from the CLI or an MQTT command, and faults. The engine calls `checkpoint()`
 * between steps (fields, targets); a pause takes effect there, so a step is never half-done.
 */
import { EventEmitter } from 'node:events';

export type ScanState = 'idle' | 'running' | 'paused' | 'faulted' | 'aborting' | 'finished' | 'aborted' | 'failed';

export class ScanAborted extends Error {
  readonly canceled = true;
  constructor(reason: string) {
    super(`scan aborted: ${reason}`);
    this.name = 'ScanAborted';
  }
}

export class ScanControl extends EventEmitter {
  private st: ScanState = 'idle';
  private why = '';
  private readonly ac = new AbortController();
  private wake: (() => void) | null = null;

  get state(): ScanState {
    return this.st;
  }

  get reason(): string {
    return this.why;
  }

  /** Aborts moves and grabs in progress when the scan is aborted. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  set(state: ScanState, reason = ''): void {
    if (state === this.st && reason === this.why) return;
    this.st = state;
    this.why = reason;
    this.emit('state', state, reason);
    if (state === 'running' || state === 'aborting') {
      this.wake?.();
      this.wake = null;
    }
  }

  pause(reason = 'paused by operator'): boolean {
    if (this.st !== 'running') return false;
    this.set('paused', reason);
    return true;
  }

  resume(): boolean {
    if (this.st !== 'paused' && this.st !== 'faulted') return false;
    this.set('running');
    return true;
  }

  /** True when the scan was stopped to be resumed later (shutdown), not ended. */
  resumable = false;

  /** Aborts the scan; with `resumable` (a shutdown) its journal stays open and the next start resumes it. */
  abort(reason = 'aborted by operator', opts: { resumable?: boolean } = {}): boolean {
    if (this.st === 'finished' || this.st === 'aborted' || this.st === 'failed' || this.st === 'idle') return false;
    this.resumable = opts.resumable ?? false;
    this.set('aborting', reason);
    this.ac.abort(new ScanAborted(reason));
    return true;
  }

  /** A device fault: the scan stops where it is until someone resumes (after fixing it) or aborts. */
  fault(reason: string): void {
    if (this.st === 'aborting') return;
    this.set('faulted', reason);
  }

  async checkpoint(): Promise<void> {
    for (;;) {
      if (this.st === 'aborting') throw new ScanAborted(this.why);
      if (this.st !== 'paused' && this.st !== 'faulted') return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}
