/**
 * Who did something and from where, for the audit trail: the person behind sudo (SUDO_USER), else the login user, and
 * the SSH client's address when the command came over SSH.
 */
import { userInfo } from 'node:os';

export interface Actor {
  /** Login name of the person (or "smartscope" for the daemon's own decisions). */
  user: string;
  /** "ssh 10.1.2.3", "local", or "daemon". */
  from: string;
  /** The program that acted: "cli", "daemon" or "web" (the local web page). */
  via: 'cli' | 'daemon' | 'web';
}

export function currentActor(env: NodeJS.ProcessEnv = process.env): Actor {
  let user = env.SUDO_USER || env.USER || env.LOGNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = `uid ${process.getuid?.() ?? '?'}`;
    }
  }
  const ssh = (env.SSH_CLIENT || env.SSH_CONNECTION || '').trim().split(/\s+/)[0];
  return { user, from: ssh ? `ssh ${ssh}` : 'local', via: 'cli' };
}

export function daemonActor(): Actor {
  let user = 'smartscope';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for a dynamic user: keep the service name.
  }
  return { user, from: 'daemon', via: 'daemon' };
}

export function describeActor(a: Actor): string {
  return `${a.user} (${a.from})`;
}
