#!/usr/bin/python3
"""Trains a U-Net segmenter on a labelled dataset and writes a model bundle (model.onnx + manifest.json).

  /usr/bin/python3 scripts/train/train.py --preset superalloy --dataset ../shared/datasets/nasa_superalloy_sem \
      --out models/superalloy [--cv] [--epochs N] [--seed S] [--threads 2]

Splits are by group (sample / location): with `folds` set, groups are dealt into k folds; fold 0 is the validation
split of the shipped model, the next-smallest training groups monitor early stopping, and `--cv` trains every fold to
report cross-validated metrics. Without folds (the twin, where data is plentiful) one fifth of the groups validate and
another fifth monitor. The validation split is recorded in the manifest so `smartscope eval --split validation`
measures the shipped model on exactly the images it never saw.
"""
import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import geometric, photometric, spatial, stain  # noqa: E402
from bundle_init import freeze_batchnorm, unet_from_bundle  # noqa: E402
from data import Item, bin_items, group_folds, load_dataset  # noqa: E402
from export import export_onnx  # noqa: E402
from scoring import LOSSES, choose_threshold, class_weights, evaluate, scores, seg_loss  # noqa: E402
from presets import LICENSES, PRESETS  # noqa: E402
from unet import UNet, count_params  # noqa: E402


def log(msg: str) -> None:
    print(f'[train {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def seed_everything(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


# --------------------------------------------------------------------------------------------------------------------
# Splits


def monitor_groups(items, train_groups):
    """The smallest training groups (ties by name) until they hold at least 15 % of the training images."""
    sizes = {g: sum(1 for it in items if it.group == g) for g in train_groups}
    total = sum(sizes.values())
    chosen = []
    for g in sorted(train_groups, key=lambda g: (sizes[g], g)):
        if len(chosen) + 1 >= len(train_groups):
            break
        chosen.append(g)
        if sum(sizes[c] for c in chosen) >= 0.15 * total:
            break
    return chosen


def make_split(items, folds, fold):
    if folds:
        parts = group_folds(items, folds)
        val = parts[fold]
        rest = sorted(g for i, p in enumerate(parts) if i != fold for g in p)
        mon = monitor_groups(items, rest)
        train = [g for g in rest if g not in mon]
        return {'method': f'group {folds}-fold', 'folds': folds, 'fold': fold, 'validationGroups': val,
                'monitorGroups': sorted(mon), 'trainingGroups': train}
    parts = group_folds(items, 5)
    return {'method': 'group hold-out (1/5 validation, 1/5 early-stopping monitor)', 'folds': None, 'fold': None,
            'validationGroups': parts[0], 'monitorGroups': parts[1],
            'trainingGroups': sorted(g for p in parts[2:] for g in p)}


def subset(items, groups):
    gs = set(groups)
    return [it for it in items if it.group in gs]


# --------------------------------------------------------------------------------------------------------------------
# Sampling


class CropSampler:
    """Random crops; a share of them centred on a foreground pixel so rare classes (cracks, pits) are seen often."""

    def __init__(self, items, crop, num_classes, pos_fraction, rng):
        self.items = items
        self.crop = crop
        self.rng = rng
        self.pos_fraction = pos_fraction
        self.fg = []  # per class: list of (item index, flat pixel indices)
        for k in range(1, num_classes):
            per = []
            for i, it in enumerate(items):
                idx = np.flatnonzero(it.mask == k)
                if idx.size:
                    if idx.size > 20000:
                        idx = idx[rng.choice(idx.size, 20000, replace=False)]
                    per.append((i, idx))
            if per:
                self.fg.append(per)

    def sample(self):
        rng = self.rng
        c = self.crop
        if self.fg and rng.random() < self.pos_fraction:
            per = self.fg[int(rng.integers(len(self.fg)))]
            i, idx = per[int(rng.integers(len(per)))]
            it = self.items[i]
            p = int(idx[rng.integers(idx.size)])
            cy, cx = divmod(p, it.mask.shape[1])
            y0 = cy - c // 2 + int(rng.integers(-c // 4, c // 4 + 1))
            x0 = cx - c // 2 + int(rng.integers(-c // 4, c // 4 + 1))
        else:
            it = self.items[int(rng.integers(len(self.items)))]
            y0 = int(rng.integers(0, max(1, it.mask.shape[0] - c + 1)))
            x0 = int(rng.integers(0, max(1, it.mask.shape[1] - c + 1)))
        return crop_padded(it.image, it.mask, y0, x0, c)


def crop_padded(img, mask, y0, x0, c):
    h, w = mask.shape
    if h < c or w < c:
        ph, pw = max(0, c - h), max(0, c - w)
        img = np.pad(img, ((0, ph), (0, pw)), mode='reflect')
        mask = np.pad(mask, ((0, ph), (0, pw)), mode='constant')
        h, w = mask.shape
    y0 = min(max(0, y0), h - c)
    x0 = min(max(0, x0), w - c)
    return img[y0 : y0 + c, x0 : x0 + c], mask[y0 : y0 + c, x0 : x0 + c]


def monitor_view(items, k, seed, max_pixels=2_500_000, crops=32, size=256):
    """What early stopping watches each epoch: the monitor images themselves when small, else a fixed set of crops
    from them (half centred on foreground), so an epoch's check costs the same for large photographs."""
    if sum(it.mask.size for it in items) <= max_pixels:
        return items
    rng = np.random.default_rng(seed + 7)
    size = min(size, min(min(it.mask.shape) for it in items))
    sampler = CropSampler(items, size, k, 0.5, rng)
    out = []
    for i in range(crops):
        img, mask = sampler.sample()
        out.append(Item(f'monitor-crop-{i}', 'monitor', img.copy(), mask.copy()))
    return out



# --------------------------------------------------------------------------------------------------------------------
# Training


def train_one(args, preset, ds, split, device, seed):
    k = len(ds.classes)
    train_items = subset(ds.items, split['trainingGroups'])
    mon_items = subset(ds.items, split['monitorGroups'])
    val_items = subset(ds.items, split['validationGroups'])
    if not train_items or not mon_items or not val_items:
        raise SystemExit('train: a split is empty: ' + json.dumps({k2: len(v) for k2, v in
                         [('train', train_items), ('monitor', mon_items), ('validation', val_items)]}))
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    if args.fine_tune:
        # The bundle's weights expect its own normalisation: keep it.
        net, base_manifest = unet_from_bundle(args.fine_tune)
        net = net.to(device)
        mean, std = base_manifest['input']['normalisation']['mean'], base_manifest['input']['normalisation']['std']
    else:
        allpix = np.concatenate([it.image.ravel()[::7] for it in train_items])
        mean, std = float(allpix.mean()), float(max(allpix.std(), 1e-3))
        net = UNet(1, k, preset['base'], preset['depth']).to(device)
    multiple = 2 ** (preset['depth'] - 1)
    weights = class_weights(train_items, k).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=preset['lr'], weight_decay=1e-4)
    epochs = args.epochs or preset['epochs']
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=preset['lr'], total_steps=epochs * max(1, preset['crops_per_epoch'] // preset['batch']))
    sampler = CropSampler(train_items, preset['crop'], k, preset['pos_fraction'], rng)
    mon_eval = monitor_view(mon_items, k, seed)
    best = {'score': -1.0, 'epoch': 0, 'state': None}
    history = []
    steps = max(1, preset['crops_per_epoch'] // preset['batch'])
    ckpt = os.path.join(args.checkpoint, f"fold{split['fold'] or 0}-{len(split['trainingGroups'])}groups.pt") if args.checkpoint else None
    start = 1
    if ckpt and args.resume and os.path.exists(ckpt):
        start, best, history = load_checkpoint(ckpt, net, opt, sched, rng, gen)
        log(f"resumed {ckpt} after epoch {start - 1} (best epoch {best['epoch']}, monitor IoU {best['score']:.4f})")
    log(f"fold {split['fold']}: {len(train_items)} train / {len(mon_items)} monitor / {len(val_items)} validation images; "
        f"{count_params(net)} parameters; class weights {[round(float(w), 2) for w in weights]}")
    stopped = bool(history) and history[-1].get('stopped')
    for epoch in range(start, epochs + 1):
        if stopped:
            break
        net.train()
        if args.fine_tune:
            freeze_batchnorm(net)
        t0 = time.time()
        total = 0.0
        for _ in range(steps):
            imgs, masks = [], []
            for _ in range(preset['batch']):
                im, m = sampler.sample()
                im, m = geometric(im, m, rng)
                imgs.append(im)
                masks.append(m)
            x = torch.from_numpy(np.stack(imgs))[:, None]
            y = torch.from_numpy(np.stack(masks).astype(np.int64))
            x, y = spatial(x, y, gen, preset['scale_aug'], preset['elastic'])
            x = stain(x, gen, preset['stain'])
            x = photometric(x, gen, args.aug_strength)
            x = ((x - mean) / std).to(device)
            y = y.to(device)
            loss = seg_loss(net(x), y, weights, preset['loss'])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss)
        conf = evaluate(net, mon_eval, mean, std, multiple, device, k)
        s = scores(conf)
        history.append({'epoch': epoch, 'loss': round(total / steps, 4), 'monitorMeanForegroundIoU': round(s['meanForegroundIoU'], 4)})
        log(f"epoch {epoch}: loss {total / steps:.4f}, monitor mean foreground IoU {s['meanForegroundIoU']:.4f} ({time.time() - t0:.1f} s)")
        if s['meanForegroundIoU'] > best['score'] + 1e-4:
            best = {'score': s['meanForegroundIoU'], 'epoch': epoch,
                    'state': {n: v.detach().clone() for n, v in net.state_dict().items()}}
        elif epoch >= epochs // 2 and epoch - best['epoch'] >= preset['patience']:
            log(f"early stop: no improvement for {preset['patience']} epochs after the first half (best epoch {best['epoch']})")
            history[-1]['stopped'] = True
            stopped = True
        if ckpt:
            save_checkpoint(ckpt, epoch, net, opt, sched, rng, gen, best, history)
            if args.stop_after and epoch - start + 1 >= args.stop_after and not stopped and epoch < epochs:
                log(f"paused after epoch {epoch} (--stop-after {args.stop_after}); continue with the same command and --resume")
                raise Paused()
    for h in history:
        h.pop('stopped', None)
    net.load_state_dict(best['state'])
    net.eval()
    thr, fscore = choose_threshold(net, mon_items, mean, std, multiple, device, preset['select'])
    conf = evaluate(net, val_items, mean, std, multiple, device, k, thr)
    val = scores(conf)
    log(f"fold {split['fold']}: best epoch {best['epoch']}, threshold {thr} ({preset['select']} {fscore:.3f} on monitor); "
        f"validation IoU {[None if v is None else round(v, 4) for v in val['iou']]}")
    return net, {'mean': mean, 'std': std, 'threshold': thr, 'bestEpoch': best['epoch'], 'epochsRun': len(history),
                 'history': history, 'validation': val, 'confusion': conf.tolist(), 'multiple': multiple}


class Paused(Exception):
    """This sitting's epochs are done; the checkpoint holds the state to continue from."""


def save_checkpoint(path, epoch, net, opt, sched, rng, gen, best, history):
    """Everything needed to continue exactly where this epoch ended, written atomically (a kill mid-write keeps the
    previous checkpoint)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    torch.save({'epoch': epoch, 'net': net.state_dict(), 'opt': opt.state_dict(), 'sched': sched.state_dict(),
                'numpy': rng.bit_generator.state, 'gen': gen.get_state(), 'torch': torch.get_rng_state(),
                'best': best, 'history': history}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, net, opt, sched, rng, gen):
    c = torch.load(path, map_location='cpu')
    net.load_state_dict(c['net'])
    opt.load_state_dict(c['opt'])
    sched.load_state_dict(c['sched'])
    rng.bit_generator.state = c['numpy']
    gen.set_state(c['gen'])
    torch.set_rng_state(c['torch'])
    return c['epoch'] + 1, c['best'], c['history']


def configure(args):
    """The preset with the command line's overrides; a fine-tune takes network, binning and classes from its bundle."""
    if args.fine_tune:
        from bundle_init import read_bundle
        man = read_bundle(args.fine_tune)
        name = args.preset or man['name']
        if name not in PRESETS:
            raise SystemExit(f"train: bundle {man['name']!r} has no preset; give --preset for its sampling and licence")
        cfg = dict(PRESETS[name])
        cfg.update(base=man['model']['base'], depth=man['model']['depth'], binning=man['input'].get('binning', 1),
                   classes=man['classes'], lr=cfg['lr'] / 4, epochs=max(4, cfg['epochs'] // 2))
    else:
        if not args.preset:
            raise SystemExit('train: give --preset (or --fine-tune BUNDLE)')
        cfg = dict(PRESETS[args.preset])
    cfg.setdefault('loss', 'ce-dice')
    cfg.setdefault('scale_aug', 0.0)
    cfg.setdefault('elastic', 0.0)
    cfg.setdefault('stain', 0.0)
    for key in ('base', 'depth', 'crop', 'batch', 'crops_per_epoch', 'lr', 'binning', 'loss', 'scale_aug', 'elastic',
                'stain', 'patience', 'min_area_px'):
        v = getattr(args, key)
        if v is not None:
            cfg[key] = v
    return cfg


def sha256(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def learning_curve(args, preset, ds, split, device):
    """Trains on growing shares of the training groups (a seeded draw, the same validation and monitor groups) and
    returns one point per share below 1; the caller adds the full run. Tells whether more labelled groups would help:
    a curve still rising at the full share says yes."""
    groups = list(split['trainingGroups'])
    order = [groups[i] for i in np.random.default_rng(args.seed + 99).permutation(len(groups))]
    points = []
    for frac in sorted(float(f) for f in args.learning_curve.split(',') if float(f) < 1):
        n = max(1, int(round(frac * len(order))))
        if n >= len(order):
            continue
        sub = dict(split, trainingGroups=sorted(order[:n]))
        log(f'learning curve: {n} of {len(order)} training groups')
        _, r = train_one(args, preset, ds, sub, device, args.seed)
        points.append(curve_point(ds, sub, r))
    return points


def curve_point(ds, split, res):
    return {'trainingGroups': len(split['trainingGroups']), 'trainingImages': len(subset(ds.items, split['trainingGroups'])),
            'validationIoU': res['validation']['iou'], 'validationMeanForegroundIoU': round(res['validation']['meanForegroundIoU'], 4)}


def print_curve(points):
    log('learning curve (validation mean foreground IoU by training data):')
    for p in points:
        print(f"  {p['trainingGroups']:3d} groups {p['trainingImages']:5d} images  {p['validationMeanForegroundIoU']:.4f}  "
              + ' '.join('—' if v is None else f'{v:.3f}' for v in p['validationIoU'][1:]), flush=True)


LOSS_NAMES = {
    'ce-dice': 'class-weighted cross-entropy + soft Dice over foreground classes',
    'focal-dice': 'class-weighted focal (gamma 2) + soft Dice over foreground classes',
    'focal-lovasz': 'class-weighted focal (gamma 2) + Lovasz-softmax over foreground classes',
}


def base_name(args):
    from bundle_init import read_bundle
    return read_bundle(args.fine_tune)['name']


def fine_tuned_from(args):
    if not args.fine_tune:
        return None
    from bundle_init import read_bundle
    m = read_bundle(args.fine_tune)
    return {'name': m['name'], 'version': m['version'], 'sha256': m['model']['sha256']}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--preset', choices=sorted(PRESETS), help='sampling, network and licence preset (required unless --fine-tune)')
    ap.add_argument('--fine-tune', metavar='BUNDLE', help="start from this bundle's weights, normalisation, classes and binning")
    ap.add_argument('--dataset', required=True, help='labelled dataset folder (read in place, never copied)')
    ap.add_argument('--out', required=True, help='bundle folder to write (model.onnx, manifest.json)')
    ap.add_argument('--format', choices=['mask-tiff', 'color-mask', 'labelme', 'cvat-mask', 'twin'])
    ap.add_argument('--classes', help='comma-separated class names of the labels (value k = k-th name; labelme labels by name)')
    ap.add_argument('--name', help='bundle name (default: the preset)')
    ap.add_argument('--version', default='1.0.0')
    ap.add_argument('--epochs', type=int, help='maximum epochs (default: the preset)')
    ap.add_argument('--cv', action='store_true', help='train every fold and record cross-validated metrics')
    ap.add_argument('--seed', type=int, default=20261125)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--aug-strength', type=float, default=1.0)
    ap.add_argument('--device', default='auto', help='auto (CUDA when present), cpu or cuda')
    ap.add_argument('--loss', choices=LOSSES, help='training loss (default: the preset\'s)')
    ap.add_argument('--binning', type=int, help='k x k binning of the images (1 = full resolution; default: the preset\'s)')
    ap.add_argument('--base', type=int, help='channels of the first U-Net level')
    ap.add_argument('--depth', type=int, help='U-Net levels')
    ap.add_argument('--crop', type=int, help='training crop size in (binned) pixels')
    ap.add_argument('--batch', type=int)
    ap.add_argument('--crops-per-epoch', type=int)
    ap.add_argument('--lr', type=float, help='peak learning rate of the one-cycle schedule')
    ap.add_argument('--patience', type=int, help='epochs without improvement before stopping (after the first half)')
    ap.add_argument('--min-area-px', type=int, help='smallest region the runtime reports')
    ap.add_argument('--scale-aug', type=float, help='random zoom by up to this factor (0.2 = 1/1.2 .. 1.2)')
    ap.add_argument('--elastic', type=float, help='elastic deformation amplitude in pixels (0 = off)')
    ap.add_argument('--stain', type=float, help='uneven illumination / stain field strength (0 = off)')
    ap.add_argument('--checkpoint', metavar='DIR', help='write a checkpoint per fold after every epoch into DIR')
    ap.add_argument('--resume', action='store_true', help='continue from the checkpoints in --checkpoint DIR')
    ap.add_argument('--learning-curve', metavar='FRACTIONS', help='also train on these shares of the training groups (e.g. 0.25,0.5) and print validation IoU against training data')
    ap.add_argument('--stop-after', type=int, metavar='N', help='stop this sitting after N epochs (with --checkpoint; continue later with --resume)')
    args = ap.parse_args()
    if (args.resume or args.stop_after) and not args.checkpoint:
        raise SystemExit('train: --resume and --stop-after need --checkpoint DIR')

    preset = configure(args)
    torch.set_num_threads(args.threads)
    device = torch.device('cuda' if args.device == 'auto' and torch.cuda.is_available() else
                          ('cpu' if args.device == 'auto' else args.device))
    t_start = time.time()
    classes = ['background'] + [c.strip() for c in args.classes.split(',') if c.strip()] if args.classes else preset['classes']
    ds = load_dataset(args.dataset, args.format or preset['format'], classes)
    if args.fine_tune and ds.classes != preset['classes']:
        raise SystemExit(f"train: dataset classes {ds.classes} differ from the bundle's {preset['classes']}")
    if preset['collapse']:
        for it in ds.items:
            it.mask = (it.mask > 0).astype(np.uint8)
        ds.classes = preset['classes']
    binning = preset.get('binning', 1)
    if binning > 1:
        bin_items(ds.items, binning)
    log(f"{ds.format} dataset {args.dataset}: {len(ds.items)} images, {len({it.group for it in ds.items})} groups, classes {ds.classes}"
        + (f', binned {binning}x{binning}' if binning > 1 else ''))

    split = make_split(ds.items, preset['folds'], 0)
    curve = None
    if args.learning_curve:
        curve = learning_curve(args, preset, ds, split, device)
    net, res = train_one(args, preset, ds, split, device, args.seed)
    if curve is not None:
        curve.append(curve_point(ds, split, res))
        print_curve(curve)
    cv = []
    if args.cv and preset['folds']:
        cv.append({'fold': 0, 'validationGroups': split['validationGroups'], **res['validation']})
        for fold in range(1, preset['folds']):
            s = make_split(ds.items, preset['folds'], fold)
            _, r = train_one(args, preset, ds, s, device, args.seed + fold)
            cv.append({'fold': fold, 'validationGroups': s['validationGroups'], **r['validation']})

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, 'model.onnx')
    export_onnx(net.cpu(), onnx_path, preset['tile'])
    lic = LICENSES[preset['license_key']]
    name = args.name or args.preset or base_name(args)
    k = len(ds.classes)
    manifest = {
        'schemaVersion': 1,
        'name': name,
        'version': args.version,
        'task': preset['task'],
        'description': preset['description'],
        'classes': ds.classes,
        'model': {
            'file': 'model.onnx', 'sha256': sha256(onnx_path), 'bytes': os.path.getsize(onnx_path),
            'format': 'onnx', 'opset': 17, 'architecture': 'unet', 'base': preset['base'], 'depth': preset['depth'],
            'parameters': count_params(net),
        },
        'input': {
            'name': 'image', 'layout': 'NCHW', 'dtype': 'float32', 'channels': 1, 'colour': 'grey',
            'sizeMultiple': res['multiple'], 'tileSize': preset['tile'], 'binning': binning, 'trainedOnCrop': preset['crop'],
            'normalisation': {'formula': '(pixel / (2^bitDepth - 1) - mean) / std', 'mean': round(res['mean'], 6),
                              'std': round(res['std'], 6)},
        },
        'output': {'name': 'probs', 'layout': 'NCHW', 'kind': 'softmax', 'channels': k},
        # The frames' pixel size (before any binning, which the runtime applies as the training did).
        'pixelSizeUm': ds.pixel_size_um,
        'thresholds': {'foreground': res['threshold'], 'minAreaPx': preset['min_area_px'], 'closePx': preset.get('close_px', 0),
                       'selectedBy': f"pixel {preset['select'].upper()} on the early-stopping monitor split"},
        'training': {
            'command': 'scripts/train/train.py ' + ' '.join(a if ' ' not in a else repr(a) for a in sys.argv[1:]),
            'dataset': {
                'name': preset.get('dataset_name', os.path.basename(os.path.normpath(args.dataset))),
                'format': ds.format, 'images': len(ds.items), 'groups': len({it.group for it in ds.items}),
                'license': lic['license'], 'licenseFile': lic['licenseFile'], 'attribution': lic['attribution'],
            },
            'split': split,
            'seed': args.seed,
            'device': str(device),
            'epochsRun': res['epochsRun'],
            'bestEpoch': res['bestEpoch'],
            'augmentation': ['flips', '90-degree rotations', 'brightness', 'contrast', 'gamma', 'Gaussian blur', 'Gaussian noise']
            + ([f"scale 1/{1 + preset['scale_aug']:g}..{1 + preset['scale_aug']:g}"] if preset['scale_aug'] else [])
            + ([f"elastic {preset['elastic']:g} px"] if preset['elastic'] else [])
            + ([f"illumination / stain field {preset['stain']:g}"] if preset['stain'] else []),
            'loss': LOSS_NAMES[preset['loss']],
            'fineTunedFrom': fine_tuned_from(args),
            'history': res['history'],
            'seconds': round(time.time() - t_start, 1),
            'validationPixelMetrics': {'iou': res['validation']['iou'], 'dice': res['validation']['dice'],
                                       'confusion': res['confusion'], 'measuredWith': 'scripts/train (whole images)'},
            'crossValidation': cv or None,
            'learningCurve': curve,
        },
        'license': {'model': lic['modelLicense'], 'shareAlike': lic['shareAlike'],
                    'note': ('This model is an adaptation of CC BY-SA 4.0 data and is shared under CC BY-SA 4.0: give '
                             'the attribution above and share derived models under the same licence.') if lic['shareAlike'] else None},
        'metrics': None,
    }
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    log(f"wrote {args.out}: model.onnx ({manifest['model']['bytes']} bytes), manifest.json in {time.time() - t_start:.0f} s")


if __name__ == '__main__':
    try:
        main()
    except Paused:
        sys.exit(0)
