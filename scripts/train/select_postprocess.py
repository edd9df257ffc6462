#!/usr/bin/python3
"""Chooses a bundle's post-processing (foreground threshold and smallest region) by object F1 on its early-stopping
monitor split, and writes them into its manifest.

  /usr/bin/python3 scripts/train/select_postprocess.py --bundle models/pitting --dataset ../shared/datasets/bsdata_pitting \
      [--iou 0.5] [--dry-run]

Pixel F1 (what training chooses the threshold by) rewards getting large areas right; a detector is judged by its
objects: a speck of stain called a pit costs as much as a missed pit. This replays the runtime's post-processing
(foreground where P(not background) >= threshold, class = most probable foreground class, 8-connected regions of one
class, regions under minAreaPx dropped) on the network's probabilities for the monitor images — which neither trained
the model nor belong to its validation split — and picks the pair with the best object F1 at the given IoU (ties: the
larger threshold and area, the simpler detector). The validation split stays unseen: measure the result with
`smartscope eval --split validation`.
"""
import argparse
import json
import os
import sys
from collections import deque

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_init import unet_from_bundle  # noqa: E402
from data import bin_items, load_dataset  # noqa: E402
from scoring import predict_full  # noqa: E402


def components(mask: np.ndarray) -> tuple:
    """8-connected regions of equal non-zero value: (label image, number of regions)."""
    h, w = mask.shape
    labels = np.zeros((h, w), np.int32)
    n = 0
    for y0, x0 in zip(*np.nonzero(mask)):
        if labels[y0, x0]:
            continue
        n += 1
        v = mask[y0, x0]
        labels[y0, x0] = n
        q = deque([(y0, x0)])
        while q:
            y, x = q.popleft()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    yy, xx = y + dy, x + dx
                    if 0 <= yy < h and 0 <= xx < w and not labels[yy, xx] and mask[yy, xx] == v:
                        labels[yy, xx] = n
                        q.append((yy, xx))
    return labels, n


class Objects:
    """Regions of a class map with their areas, classes and mean foreground probability."""

    def __init__(self, classes: np.ndarray, fg: np.ndarray | None = None):
        self.labels, self.n = components(classes)
        flat = self.labels.ravel()
        self.area = np.bincount(flat, minlength=self.n + 1)
        self.cls = np.zeros(self.n + 1, np.int64)
        self.cls[flat] = classes.ravel()
        self.conf = (np.bincount(flat, weights=fg.ravel(), minlength=self.n + 1) / np.maximum(self.area, 1)) if fg is not None else None


def match_counts(truth: Objects, pred: Objects, min_area: int, iou: float) -> tuple:
    """(true positives, detections, truth objects): detections of at least min_area px, matched one-to-one to truth
    objects of their class at mask IoU >= iou, most confident detection first."""
    keep = [p for p in range(1, pred.n + 1) if pred.area[p] >= min_area]
    if not truth.n or not keep:
        return 0, len(keep), truth.n
    both = (truth.labels > 0) & (pred.labels > 0)
    overlaps = {}
    for t, p in zip(truth.labels[both].tolist(), pred.labels[both].tolist()):
        d = overlaps.setdefault(p, {})
        d[t] = d.get(t, 0) + 1
    taken = set()
    tp = 0
    for p in sorted(keep, key=lambda p: -pred.conf[p]):
        best, best_iou = 0, iou
        for t, inter in overlaps.get(p, {}).items():
            if t in taken or truth.cls[t] != pred.cls[p]:
                continue
            v = inter / (truth.area[t] + pred.area[p] - inter)
            if v >= best_iou:
                best, best_iou = t, v
        if best:
            taken.add(best)
            tp += 1
    return tp, len(keep), truth.n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bundle', required=True)
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--format')
    ap.add_argument('--iou', type=float, default=0.5, help='object match threshold (default 0.5)')
    ap.add_argument('--thresholds', default='0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95')
    ap.add_argument('--areas', default='4,8,16,30,60,120,240,480')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--dry-run', action='store_true', help='print the choice, leave the manifest as it is')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    net, man = unet_from_bundle(args.bundle)
    net.eval()
    ds = load_dataset(args.dataset, args.format or man['training']['dataset']['format'], man['classes'])
    mon = set(man['training']['split']['monitorGroups'])
    items = [it for it in ds.items if it.group in mon]
    if not items:
        raise SystemExit(f'select: the dataset has none of the monitor groups {sorted(mon)}')
    k = man['input'].get('binning', 1)
    if k > 1:
        bin_items(items, k)
    norm = man['input']['normalisation']
    probs = [predict_full(net, it.image, norm['mean'], norm['std'], man['input']['sizeMultiple'], torch.device('cpu')) for it in items]
    thresholds = [float(t) for t in args.thresholds.split(',')]
    areas = [int(a) for a in args.areas.split(',')]
    # An area in frame pixels is k*k binned pixels.
    truth = [Objects(it.mask) for it in items]
    results = []
    for thr in thresholds:
        preds = []
        for p in probs:
            fg = 1 - p[0]
            cls = p[1:].argmax(0).astype(np.uint8) + 1
            preds.append(Objects(np.where(fg >= thr, cls, 0).astype(np.uint8), fg))
        for area in areas:
            tp = dets = truths = 0
            for t, pred in zip(truth, preds):
                a, b, c = match_counts(t, pred, max(1, area // (k * k)), args.iou)
                tp, dets, truths = tp + a, dets + b, truths + c
            prec = tp / dets if dets else 0.0
            rec = tp / truths if truths else 0.0
            f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            results.append({'threshold': thr, 'minAreaPx': area, 'precision': prec, 'recall': rec, 'f1': f1, 'detections': dets})
            print(f'threshold {thr:.2f} min area {area:4d} px: P {prec:.3f} R {rec:.3f} F1 {f1:.3f} ({dets} detections, {truths} objects)', flush=True)
    best = max(results, key=lambda r: (round(r['f1'], 6), r['threshold'], r['minAreaPx']))
    print(json.dumps({'bundle': args.bundle, 'monitorGroups': sorted(mon), 'iou': args.iou, 'chosen': best}))
    if not args.dry_run:
        man['thresholds']['foreground'] = best['threshold']
        man['thresholds']['minAreaPx'] = best['minAreaPx']
        man['thresholds']['selectedBy'] = (f"object F1 at IoU >= {args.iou} on the early-stopping monitor split "
                                           f"(scripts/train/select_postprocess.py; {best['f1']:.3f} there)")
        with open(os.path.join(args.bundle, 'manifest.json'), 'w') as f:
            json.dump(man, f, indent=2)
            f.write('\n')


if __name__ == '__main__':
    main()
