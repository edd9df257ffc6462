/** Small helpers for cancellable waits in the drivers. */
import { isStageError, stageError } from './stage.js';

/** The reason a signal aborted, as a StageError (callers' plain aborts become `canceled`). */
export function abortReason(signal: AbortSignal, what = 'operation'): Error {
  const r: unknown = signal.reason;
  if (isStageError(r)) return r;
  return stageError(`${what} canceled`, { canceled: true });
}

/** Resolves or rejects with `p`, or rejects as soon as `signal` aborts (p keeps running; its outcome is ignored). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what?: string): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortReason(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** Real-time wait (I/O back-off, not instrument time). */
export function realDelay(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortReason(signal!));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
