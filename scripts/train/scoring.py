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


LOSSES = ('ce-dice', 'focal-dice', 'focal-lovasz')


def soft_dice(probs, onehot):
    """1 - soft Dice per class over the batch (index 0 = background)."""
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return 1 - (2 * inter + 1) / (denom + 1)


def focal(logits, target, weights, gamma=2.0):
    """Class-weighted focal loss (Lin et al. 2017): cross-entropy scaled by (1 - p_true)^gamma, so the many easy
    background pixels stop dominating and the few hard ones (a crack's edge, a small pit) carry the gradient."""
    logp = F.log_softmax(logits, 1)
    lp = logp.gather(1, target[:, None])[:, 0]
    w = weights[target]
    return (-(1 - lp.exp()).pow(gamma) * lp * w).sum() / w.sum()


def lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    inter = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jac = 1 - inter / union
    if gt_sorted.numel() > 1:
        jac[1:] = jac[1:] - jac[:-1]
    return jac


def lovasz_softmax(probs, target, classes=None):
    """Lovász-softmax (Berman et al. 2018): a convex surrogate of the per-class Jaccard loss, averaged over the
    foreground classes present in the batch (or `classes`)."""
    k = probs.shape[1]
    p = probs.permute(0, 2, 3, 1).reshape(-1, k)
    t = target.reshape(-1)
    losses = []
    for c in (classes if classes is not None else range(1, k)):
        fg = (t == c).float()
        if fg.sum() == 0:
            continue
        err = (fg - p[:, c]).abs()
        err_sorted, perm = torch.sort(err, descending=True)
        losses.append(torch.dot(err_sorted, lovasz_grad(fg[perm])))
    return torch.stack(losses).mean() if losses else probs.sum() * 0


def seg_loss(logits, target, weights, kind='ce-dice'):
    """ce-dice: class-weighted cross-entropy + soft Dice over foreground classes (the original recipe);
    focal-dice: class-weighted focal + soft Dice; focal-lovasz: class-weighted focal + Lovász-softmax."""
    probs = torch.softmax(logits, 1)
    if kind == 'focal-lovasz':
        return focal(logits, target, weights) + lovasz_softmax(probs, target)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    dice = soft_dice(probs, onehot)[1:].mean()
    if kind == 'focal-dice':
        return focal(logits, target, weights) + dice
    if kind == 'ce-dice':
        return F.cross_entropy(logits, target, weight=weights) + dice
    raise ValueError(f'unknown loss {kind!r} (one of {", ".join(LOSSES)})')


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
