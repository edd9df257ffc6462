/**
 * Config section `web`: the local web page (live view, this scan, defects, history, appliance status, control and
 * review). Loopback only by default; control and review need a sign-in whose password or token is stored hashed.
 */
import { bool, int, num, obj, str, type Schema } from '../kernel/schema-kit.js';

const HASH = { pattern: '^scrypt\\$[0-9]+\\$[0-9]+\\$[0-9]+\\$[A-Za-z0-9+/=]+\\$[A-Za-z0-9+/=]+$', 'x-expect': 'a hash printed by `smartscope web-password`' };

export const webSchema: Schema = obj('The local web page: live view, the scan in progress, defects, history, status; control and review when signed in.', {
  enabled: bool('Serve the web page.', true),
  host: str(
    'Address to listen on. Loopback by default: only people on the microscope itself (or an SSH tunnel) see the page. Set an interface address to serve the line, and set a password.',
    '127.0.0.1',
    {
      minLength: 1,
      maxLength: 255,
    },
  ),
  port: int('TCP port (0: any free port; the address is logged and `smartscope demo` prints it).', 8080, 0, 65535),
  auth: obj('Who may control scans and review defects. Without a password hash and a token hash, the page is read-only.', {
    passwordHash: str('scrypt hash of the sign-in password (print one with `smartscope web-password`).', undefined, HASH),
    tokenHash: str('scrypt hash of an API token for scripts (sent as "Authorization: Bearer TOKEN").', undefined, HASH),
    sessionTtlMin: int('How long a sign-in lasts.', 480, 1, 10_080, 'min'),
  }),
  limits: obj('Bounds on what one client may ask; what is refused is counted on the status page.', {
    requestsPerMinute: int('Requests per client address per minute (live streams and the event stream count once).', 600, 10, 100_000),
    signInsPerMinute: int('Sign-in attempts per client address per minute.', 10, 1, 1000),
    maxBodyBytes: int('Largest request body.', 16_384, 256, 1_048_576, 'bytes'),
    maxViewers: int('Largest number of open live and event streams together.', 16, 1, 256),
  }),
  live: obj(
    'The live camera view: frames are copied and encoded only for viewers, at most at this rate; a frame that finds the encoder busy is dropped and counted, never queued.',
    {
      maxFps: num('Highest live frame rate sent to viewers.', 4, 0.2, 30, 'fps'),
      maxSidePx: int('Longest side of a live frame.', 640, 64, 2048, 'px'),
      jpegQuality: int('JPEG quality of live frames and mosaic fields.', 70, 10, 100),
    },
  ),
});

export interface WebConfig {
  enabled: boolean;
  host: string;
  port: number;
  auth: { passwordHash?: string; tokenHash?: string; sessionTtlMin: number };
  limits: { requestsPerMinute: number; signInsPerMinute: number; maxBodyBytes: number; maxViewers: number };
  live: { maxFps: number; maxSidePx: number; jpegQuality: number };
}
