/**
 * `smartscope model install|list|activate|rollback|verify`: what a technician runs over SSH to update the models.
 * A running daemon notices the change of models/active.json and switches between frames.
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readBundle } from '../bundles/bundle-source.js';
import { bundleId, roleOf, type ModelRole } from '../bundles/manifest.js';
import { StoreBusy } from '../bundles/store.js';
import { BundleRefused, verifyBundle, type VerifiedBundle, type VerifyStep } from '../bundles/verify.js';
import { EXIT } from '../exit-codes.js';
import { openApplianceContext, type ApplianceContext } from './appliance-context.js';
import { progress } from '../kernel/progress.js';

interface JsonOpt {
  json?: boolean;
}

const STEP_LABEL: Record<VerifyStep, string> = {
  signature: 'checking signature',
  files: 'checking file hashes',
  model: 'loading model',
  golden: 'replaying golden set',
};

function out(opts: JsonOpt, json: unknown, text: string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

/** Refusals and a busy store are expected outcomes (exit 1 with the reason), not crashes. */
function refused(ctx: ApplianceContext | undefined, opts: JsonOpt, action: string, subject: string | undefined, err: unknown): number {
  if (!(err instanceof BundleRefused) && !(err instanceof StoreBusy)) throw err;
  const code = err instanceof BundleRefused ? err.code : 'busy';
  ctx?.records.audit({ action, subject, outcome: 'refused', actor: ctx.actor, details: { code, reason: err.message } });
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: false, code, error: err.message })}\n`);
  else process.stderr.write(`smartscope: refused: ${err.message}\n`);
  return EXIT.failed;
}

/** Reads a bundle folder or .tar; one that cannot be read (not a tar, truncated, missing) is refused like a bad bundle. */
function readOrRefuse(path: string, opts: JsonOpt, action: string): ReturnType<typeof readBundle> | null {
  try {
    return readBundle(path);
  } catch (err) {
    if (err instanceof BundleRefused) throw err;
    process.exitCode = refused(undefined, opts, action, path, new BundleRefused('corrupted', `${(err as Error).message}`));
    return null;
  }
}

function registerVersion(ctx: ApplianceContext, v: VerifiedBundle): void {
  const m = v.manifest;
  ctx.records.registerModel({ id: bundleId(m), name: m.name, version: m.version, role: roleOf(m), manifestSha256: v.manifestSha256, keyId: v.key.id });
}

export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('install, list, activate, roll back and verify signed model bundles');

  model
    .command('install')
    .argument('<bundle>', 'bundle folder or .tar made by scripts/sign-bundle')
    .description('verify a bundle (signature, hashes, ONNX load, shapes, classes, golden set), install it and make it active')
    .option('--no-activate', 'install only; activate later with `model activate`')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, opts: JsonOpt & { activate: boolean }) => {
      // Read the bundle before acting as the state owner: it may sit in the technician's home folder.
      const src = readOrRefuse(path, opts, 'model.install');
      if (!src) return;
      const ctx = openApplianceContext(program);
      try {
        ctx.records.audit({ action: 'model.install.request', subject: path, outcome: 'ok', actor: ctx.actor, details: { files: src.files.size } });
        const bar = progress('verifying', { enabled: !opts.json });
        let v: VerifiedBundle;
        try {
          v = await verifyBundle(src, {
            trustedKeys: ctx.trustedKeys,
            trustedKeysDir: ctx.config.models.trustedKeysDir,
            onProgress: (step, done, total) => bar.update(done, total, STEP_LABEL[step]),
          });
        } catch (err) {
          bar.done();
          process.exitCode = refused(ctx, opts, 'model.install', path, err);
          return;
        } finally {
          bar.done();
        }
        const id = bundleId(v.manifest);
        ctx.records.audit({ action: 'model.verify', subject: id, outcome: 'ok', actor: ctx.actor, details: { keyId: v.key.id, golden: v.golden } });
        registerVersion(ctx, v);
        const previous = ctx.store.state().roles[roleOf(v.manifest)]?.id ?? null;
        let r;
        try {
          r = ctx.store.install(v, ctx.actor, opts.activate);
        } catch (err) {
          process.exitCode = refused(ctx, opts, 'model.install', id, err);
          return;
        }
        const probation = ctx.config.models.probation.durationS;
        out(
          opts,
          {
            ok: true,
            id,
            role: roleOf(v.manifest),
            activated: opts.activate,
            previous,
            alreadyInstalled: r.alreadyInstalled,
            keyId: v.key.id,
            golden: v.golden,
          },
          `${r.alreadyInstalled ? 'already installed' : 'installed'} ${id} (${roleOf(v.manifest)}, signed by key ${v.key.id}, golden set ${v.golden?.cases} cases within tolerance)` +
            (opts.activate
              ? `\nactive now; previous: ${previous ?? 'none'}. A running daemon switches between frames` +
                (probation > 0 ? ` and rolls back by itself if the model degrades within ${probation} s.` : '.')
              : `\nnot active; activate with: smartscope model activate ${id}`),
        );
      } finally {
        ctx.close();
      }
    });

  model
    .command('list')
    .description('installed versions per role, which is active, and what a rollback would return to')
    .option('--json', 'print as JSON')
    .action((opts: JsonOpt) => {
      const ctx = openApplianceContext(program);
      try {
        const st = ctx.store.state();
        const list = ctx.store.list().map((v) => ({
          id: v.id,
          role: v.role,
          active: v.active,
          rejected: st.rejected.includes(v.id),
          installedAt: v.installedAt.toISOString(),
          keyId: v.keyId,
          classes: v.manifest.classes,
          activatedBy: st.roles[v.role]?.id === v.id ? st.roles[v.role]!.by : undefined,
        }));
        if (opts.json) {
          out(opts, { versions: list, history: st.history }, '');
          return;
        }
        if (list.length === 0) {
          process.stdout.write('no models installed\n');
          return;
        }
        for (const v of list) {
          process.stdout.write(
            `${v.active ? '*' : ' '} ${v.id.padEnd(32)} ${v.role.padEnd(6)} installed ${v.installedAt}  key ${v.keyId}${v.rejected ? '  (rolled back)' : ''}${v.activatedBy ? `  activated by ${v.activatedBy}` : ''}\n`,
          );
        }
      } finally {
        ctx.close();
      }
    });

  model
    .command('activate')
    .argument('<id>', 'installed version, name@version (see `model list`)')
    .description('make an installed version serve its role (signature and hashes are checked again first)')
    .option('--json', 'print as JSON')
    .action((id: string, opts: JsonOpt) => {
      const ctx = openApplianceContext(program);
      try {
        const prev = ctx.store.list().find((v) => v.id === id);
        const before = prev ? (ctx.store.state().roles[prev.role]?.id ?? null) : null;
        const a = ctx.store.activate(id, ctx.actor, 'activate');
        out(opts, { ok: true, id: a.id, role: a.role, previous: before }, `active ${a.role} model: ${a.id} (previous: ${before ?? 'none'})`);
      } catch (err) {
        process.exitCode = refused(ctx, opts, 'model.activate', id, err);
      } finally {
        ctx.close();
      }
    });

  model
    .command('rollback')
    .description('return a role to the version that was active before the current one')
    .option('--role <role>', 'survey or zoom (needed when both are installed)')
    .option('--json', 'print as JSON')
    .action((opts: JsonOpt & { role?: string }) => {
      const ctx = openApplianceContext(program);
      try {
        const roles = [...new Set(ctx.store.list().map((v) => v.role))];
        const role = (opts.role ?? (roles.length === 1 ? roles[0] : undefined)) as ModelRole | undefined;
        if (!role || (role !== 'survey' && role !== 'zoom')) {
          process.stderr.write(`smartscope: say which role to roll back: --role ${roles.join('|') || 'survey|zoom'}\n`);
          process.exitCode = EXIT.usage;
          return;
        }
        const r = ctx.store.rollback(role, ctx.actor, 'manual rollback');
        out(opts, { ok: true, role, from: r.from, to: r.to }, `rolled ${role} back from ${r.from ?? 'none'} to ${r.to}`);
      } catch (err) {
        process.exitCode = refused(ctx, opts, 'model.rollback', opts.role, err);
      } finally {
        ctx.close();
      }
    });

  model
    .command('verify')
    .argument('[target]', 'a bundle folder/.tar to check without installing, or an installed name@version; default: the active models')
    .description('run every check of `model install` (signature, hashes, ONNX load, shapes, classes, golden set)')
    .option('--json', 'print as JSON')
    .action(async (target: string | undefined, opts: JsonOpt) => {
      const src = target && existsSync(target) ? readOrRefuse(target, opts, 'model.verify') : undefined;
      if (src === null) return;
      const ctx = openApplianceContext(program);
      const results: Array<{ target: string; ok: boolean; code?: string; error?: string; golden?: unknown }> = [];
      try {
        const run = async (label: string, fn: () => Promise<VerifiedBundle>): Promise<void> => {
          try {
            const v = await fn();
            results.push({ target: label, ok: true, golden: v.golden });
          } catch (err) {
            if (!(err instanceof BundleRefused)) throw err;
            results.push({ target: label, ok: false, code: err.code, error: err.message });
          }
        };
        if (src) {
          await run(target!, () => verifyBundle(src, { trustedKeys: ctx.trustedKeys, trustedKeysDir: ctx.config.models.trustedKeysDir }));
        } else if (target) {
          await run(target, () => ctx.store.verifyInstalled(target, true));
        } else {
          const st = ctx.store.state();
          const active = Object.values(st.roles).map((e) => e!.id);
          if (active.length === 0) results.push({ target: 'active models', ok: false, code: 'none', error: 'no model is active' });
          for (const id of active) await run(id, () => ctx.store.verifyInstalled(id, true));
        }
        ctx.records.audit({
          action: 'model.verify',
          subject: results.map((r) => r.target).join(','),
          outcome: results.every((r) => r.ok) ? 'ok' : 'refused',
          actor: ctx.actor,
          details: { results },
        });
      } finally {
        ctx.close();
      }
      out(opts, { ok: results.every((r) => r.ok), results }, results.map((r) => (r.ok ? `ok      ${r.target}` : `FAILED  ${r.target}: ${r.error}`)).join('\n'));
      process.exitCode = results.every((r) => r.ok) ? EXIT.ok : EXIT.failed;
    });
}
