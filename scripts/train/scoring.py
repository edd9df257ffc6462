"""Loss, per-pixel scores and threshold choice used while training (the runtime's own scoring is `smartscope eval`)."""
import numpy as np
import torch
import torch.nn.functional as F


def class_weights(items, num_classes):
    counts = np.zeros(num_classes, np.float64)
    for it in items:
        counts += np.bincount(it.mask.ravel(), minlength=num_classes)[:num_classes]
    freq = counts / max(1, counts.sum())
    w = np.sqrt(freq.max() / np.maximum(freq, 1e-6))
    return torch.tensor(np.minimum(w, 20.0), dtype=torch.float32)


def seg_loss(logits, target, weights):
    ce = F.cross_entropy(logits, target, weight=weights)
    probs = torch.softmax(logits, 1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = 1 - (2 * inter + 1) / (denom + 1)
    return ce + dice[1:].mean()


def predict_full(net, img, mean, std, multiple, device):
    """Probabilities for a whole image (padded by reflection to a multiple of the network's stride)."""
    h, w = img.shape
    ph, pw = (-h) % multiple, (-w) % multiple
    x = np.pad(img, ((0, ph), (0, pw)), mode='reflect') if (ph or pw) else img
    t = torch.from_numpy(((x - mean) / std).astype(np.float32))[None, None].to(device)
    with torch.no_grad():
        p = torch.softmax(net(t), 1)[0, :, :h, :w]
    return p.cpu().numpy()


def confusion(pred, mask, k):
    return np.bincount(mask.ravel().astype(np.int64) * k + pred.ravel(), minlength=k * k).reshape(k, k)


def scores(conf):
    k = conf.shape[0]
    iou, dice = [], []
    for c in range(k):
        tp = conf[c, c]
        fp = conf[:, c].sum() - tp
        fn = conf[c, :].sum() - tp
        iou.append(float(tp / (tp + fp + fn)) if tp + fp + fn else None)
        dice.append(float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None)
    fg = [v for v in iou[1:] if v is not None]
    return {'iou': iou, 'dice': dice, 'meanForegroundIoU': float(np.mean(fg)) if fg else 0.0}


def label_map(probs, thr):
    """Foreground where P(not background) >= thr; its class is the most probable foreground class."""
    fg = 1 - probs[0]
    cls = probs[1:].argmax(0).astype(np.uint8) + 1
    return np.where(fg >= thr, cls, 0).astype(np.uint8)


def evaluate(net, items, mean, std, multiple, device, k, thr=0.5):
    net.eval()
    conf = np.zeros((k, k), np.int64)
    for it in items:
        conf += confusion(label_map(predict_full(net, it.image, mean, std, multiple, device), thr), it.mask, k)
    return conf


def choose_threshold(net, items, mean, std, multiple, device, select):
    """Foreground threshold maximising pixel F1 (or F2 for recall-tuned models) on the early-stopping monitor split."""
    fgp, gt = [], []
    for it in items:
        p = predict_full(net, it.image, mean, std, multiple, device)
        fgp.append((1 - p[0]).ravel())
        gt.append((it.mask > 0).ravel())
    fgp = np.concatenate(fgp)
    gt = np.concatenate(gt)
    beta2 = 4.0 if select == 'f2' else 1.0
    best = (0.5, -1.0)
    for t in np.arange(0.05, 0.951, 0.05):
        pred = fgp >= t
        tp = float(np.sum(pred & gt))
        fp = float(np.sum(pred & ~gt))
        fn = float(np.sum(~pred & gt))
        f = (1 + beta2) * tp / max(1e-9, (1 + beta2) * tp + beta2 * fn + fp)
        if f > best[1] + 1e-9:
            best = (round(float(t), 2), f)
    return best
