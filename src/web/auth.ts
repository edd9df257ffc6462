/**
 * Sign-in for the web page: a password (people) or an API token (scripts), both stored only as scrypt hashes
 * (`scrypt$N$r$p$salt$hash`, base64); sessions in memory with a per-session CSRF token that every action must echo in
 * the `X-CSRF-Token` header. Comparisons are constant-time.
 */
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;
const R = 8;
const P = 1;
const KEYLEN = 32;

/** The hash to put in `web.auth.passwordHash` / `web.auth.tokenHash`. */
export function hashSecret(secret: string, salt: Buffer = randomBytes(16)): string {
  const key = scryptSync(secret.normalize('NFC'), salt, KEYLEN, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `secret` matches `hash`; false for a malformed hash (the config schema refuses those at load). */
export function verifySecret(secret: string, hash: string): boolean {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(hash);
  if (!m) return false;
  const [n, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounded cost, so a hand-edited hash cannot make every sign-in take minutes.
  if (n > 1 << 20 || r > 32 || p > 16) return false;
  const want = Buffer.from(m[5]!, 'base64');
  const got = scryptSync(secret.normalize('NFC'), Buffer.from(m[4]!, 'base64'), want.length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 });
  return want.length > 0 && timingSafeEqual(want, got);
}

export interface Session {
  id: string;
  csrf: string;
  user: string;
  from: string;
  expiresAt: number;
}

/** Sessions in memory: a restart signs everyone out, which is what a plant expects of an appliance reboot. */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 256,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: string, from: string): Session {
    this.sweep();
    if (this.byId.size >= this.max) this.byId.delete(this.byId.keys().next().value!);
    const s: Session = {
      id: randomBytes(24).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      user,
      from,
      expiresAt: this.now() + this.ttlMs,
    };
    this.byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.byId.delete(id);
      return null;
    }
    return s;
  }

  delete(id: string): void {
    this.byId.delete(id);
  }

  private sweep(): void {
    const t = this.now();
    for (const [id, s] of this.byId) if (s.expiresAt <= t) this.byId.delete(id);
  }
}

export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Fixed-window request counter per client address. */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; n: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 10_000,
  ) {}

  /** Counts one request; false when the client is over its limit for this minute. */
  take(client: string): boolean {
    const t = this.now();
    let w = this.windows.get(client);
    if (!w || t - w.start >= 60_000) {
      if (!w && this.windows.size >= this.maxClients) this.windows.clear();
      w = { start: t, n: 0 };
      this.windows.set(client, w);
    }
    w.n++;
    return w.n <= this.perMinute;
  }
}
