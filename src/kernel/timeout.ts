/**
 * Bounds a wait: resolves or rejects as `p` does, or rejects with "<what> did not answer within N s" once `ms` have
 * passed (`p` keeps running; its late outcome is ignored). The timer is cleared as soon as `p` settles.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
