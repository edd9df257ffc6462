/**
 * `smartscope web-password`: prints the scrypt hash of a password or API token for `web.auth.passwordHash` /
 * `web.auth.tokenHash`. The secret is read from the first line of standard input (not from the command line, where
 * it would stay in the shell history and the process list).
 */
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { EXIT } from '../exit-codes.js';
import { hashSecret } from '../web/auth.js';

export function registerWebCommands(program: Command): void {
  program
    .command('web-password')
    .description('print the hash of a web sign-in password (or API token) read from standard input, for web.auth in the config')
    .action(async () => {
      if (process.stdin.isTTY) process.stderr.write('password (input is shown; pipe it in to hide it): ');
      const rl = createInterface({ input: process.stdin });
      const line = await new Promise<string | null>((resolve) => {
        rl.once('line', (l) => resolve(l));
        rl.once('close', () => resolve(null));
      });
      rl.close();
      if (!line || line.length < 8) {
        process.stderr.write('web-password: give a password of at least 8 characters on standard input\n');
        process.exitCode = EXIT.usage;
        return;
      }
      process.stdout.write(`${hashSecret(line)}\n`);
    });
}
