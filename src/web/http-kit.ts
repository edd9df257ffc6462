/**
 * Small helpers for the web page's node:http server: replies with the security headers every response carries,
 * bounded JSON bodies, cookies, and refusals that are counted by reason.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RefusalReason =
  | 'bad-path'
  | 'not-found'
  | 'method'
  | 'host'
  | 'origin'
  | 'rate'
  | 'body-size'
  | 'content-type'
  | 'bad-json'
  | 'unauthenticated'
  | 'bad-credentials'
  | 'csrf'
  | 'viewers';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: RefusalReason,
  ) {
    super(message);
  }
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
};

export function headers(res: ServerResponse, type: string, extra: Record<string, string | number | string[]> = {}): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  res.setHeader('Content-Type', type);
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string | number | string[]> = {}): void {
  const text = JSON.stringify(body);
  headers(res, 'application/json; charset=utf-8', { 'Cache-Control': 'no-store', ...extra });
  res.writeHead(status);
  res.end(text);
}

export function sendBytes(res: ServerResponse, type: string, body: Buffer, cache = 'no-store'): void {
  headers(res, type, { 'Cache-Control': cache, 'Content-Length': body.length });
  res.writeHead(200);
  res.end(body);
}

/** Reads a JSON object body of at most `max` bytes; refuses a larger one as soon as it is announced or seen. */
export async function readJson(req: IncomingMessage, max: number): Promise<Record<string, unknown>> {
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'send the request body as application/json', 'content-type');
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) throw new HttpError(413, `request body larger than ${max} bytes`, 'body-size');
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new HttpError(413, `request body larger than ${max} bytes`, 'body-size');
    chunks.push(c);
  }
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    throw new HttpError(400, 'request body is not JSON', 'bad-json');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new HttpError(400, 'request body must be a JSON object', 'bad-json');
  return v as Record<string, unknown>;
}

export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

/** True for an address that only this machine can use. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** The host name of a Host header ("[::1]:8080" → "::1", "localhost:80" → "localhost"). */
export function hostName(header: string | undefined): string {
  const h = String(header ?? '')
    .trim()
    .toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return h.replace(/:\d+$/, '');
}
