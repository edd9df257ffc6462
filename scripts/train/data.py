"""Readers for the labelled dataset formats the product trains and evaluates on. Every reader returns a list of
Items: a grey image scaled to [0, 1] (float32, H x W), a class mask (uint8, 0 = background) and the group (sample /
location) the image belongs to, so validation splits never put one sample on both sides.

Formats (the same four that `smartscope eval` reads, see src/datasets/):
  mask-tiff   images/<name>.tif + masks/<name>.tif holding class values (nasa_ebc_sem)
  color-mask  images/<name>.tif + masks/<name>_mask.tif painted in pure colours (nasa_superalloy_sem)
  labelme     images/<name>.jpg + labels/<name>.json with polygons (bsdata_pitting)
  cvat-mask   CVAT "Segmentation mask 1.1" export: labelmap.txt + JPEGImages/<name>.* + SegmentationClass/<name>.png
  twin        manifest.json (format smartscope-twin) + images/*.png + masks/*.png (`smartscope dataset export`)

Class-value masks may be TIFF or PNG. Groups come from manifest.csv (columns image, mask or label, group); without
one, each image is its own group (then near-duplicate images of one sample can land on both sides of a split: give
the groups).
"""
import csv
import json
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

import tifffile


@dataclass
class Item:
    name: str
    group: str
    image: np.ndarray  # float32 [0, 1], H x W
    mask: np.ndarray  # uint8 class index, H x W
    meta: dict = field(default_factory=dict)


@dataclass
class Dataset:
    format: str
    classes: list  # class names, index 0 = background
    items: list
    pixel_size_um: float | None = None
    bit_depth: int | None = None
    license: str | None = None
    source: str | None = None


def detect_format(root: str) -> str:
    if os.path.exists(os.path.join(root, 'manifest.json')):
        return 'twin'
    if os.path.exists(os.path.join(root, 'labelmap.txt')) and os.path.isdir(os.path.join(root, 'SegmentationClass')):
        return 'cvat-mask'
    if os.path.isdir(os.path.join(root, 'labels')):
        return 'labelme'
    masks = os.path.join(root, 'masks')
    if os.path.isdir(masks) and any(n.endswith('_mask.tif') for n in os.listdir(masks)):
        return 'color-mask'
    if os.path.isdir(masks):
        return 'mask-tiff'
    raise ValueError(f'{root}: not a dataset folder this reader knows (no manifest.json, labels/ or masks/)')


def to_grey(a: np.ndarray) -> np.ndarray:
    """Scales by the dtype's full range and averages colour channels (the SEM files store R = G = B)."""
    if a.dtype == np.uint8:
        full = 255.0
    elif a.dtype == np.uint16:
        full = 65535.0
    else:
        raise ValueError(f'unsupported pixel type {a.dtype}')
    x = a.astype(np.float32) / full
    if x.ndim == 3:
        x = x[..., :3]
        # ITU-R BT.601 luma: what a monochrome camera behind a colour-balanced lamp records, near enough.
        x = x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114
    return x.astype(np.float32)


def read_tiff(path: str) -> np.ndarray:
    with tifffile.TiffFile(path) as tf:
        # The first page: GIMP-saved masks carry a shaped-series description that disagrees with the page.
        return tf.pages[0].asarray()


def read_label_image(path: str) -> np.ndarray:
    if path.lower().endswith(('.tif', '.tiff')):
        return read_tiff(path)
    with Image.open(path) as im:
        return np.array(im)


def manifest_rows(root: str, fmt: str = 'mask-tiff') -> list:
    """Rows of manifest.csv, or (without one) images/<name>.* paired with their label file, one group per image."""
    p = os.path.join(root, 'manifest.csv')
    if os.path.exists(p):
        with open(p, newline='') as f:
            rows = list(csv.DictReader(f))
        for r in rows:
            r.setdefault('mask', r.get('label'))
            r.setdefault('label', r.get('mask'))
            if not r.get('group'):
                r['group'] = os.path.splitext(os.path.basename(r['image']))[0]
        return rows
    rows = []
    for f in sorted(os.listdir(os.path.join(root, 'images'))):
        stem, ext = os.path.splitext(f)
        if fmt == 'labelme':
            cands = [os.path.join('labels', stem + '.json')]
        elif fmt == 'color-mask':
            cands = [os.path.join('masks', stem + '_mask' + ext)]
        else:
            cands = [os.path.join('masks', stem + e) for e in (ext, '.tif', '.tiff', '.png')]
        lab = next((c for c in cands if os.path.exists(os.path.join(root, c))), None)
        if lab:
            rows.append({'image': os.path.join('images', f), 'mask': lab, 'label': lab, 'group': stem})
    return rows


def read_license(root: str) -> str | None:
    for n in ('LICENSE', 'LICENSE.txt'):
        p = os.path.join(root, n)
        if os.path.exists(p):
            return n
    return None


def load_mask_tiff(root: str, classes: list) -> Dataset:
    items = []
    for row in manifest_rows(root, 'mask-tiff'):
        img = to_grey(read_label_image(os.path.join(root, row['image'])))
        mask = read_label_image(os.path.join(root, row['mask']))
        if mask.ndim == 3 and all(np.array_equal(mask[..., 0], mask[..., c]) for c in range(1, min(3, mask.shape[2]))):
            mask = mask[..., 0]  # a class-index mask saved as grey RGB
        if mask.ndim != 2:
            raise ValueError(f"{row['mask']}: expected a single-channel class mask, got shape {mask.shape}")
        if mask.max() >= len(classes):
            raise ValueError(f"{row['mask']}: mask value {mask.max()} has no class (classes: {classes})")
        items.append(Item(os.path.basename(row['image']), row['group'], img, mask.astype(np.uint8)))
    return Dataset('mask-tiff', classes, items)


def color_mask_classes(mask: np.ndarray, colours: list) -> np.ndarray:
    """Exact colour equality against the mask's own full scale (255 for 8-bit, 65535 for 16-bit masks)."""
    full = 65535 if mask.dtype == np.uint16 else 255
    rgb = mask[..., :3].astype(np.int64)
    out = np.zeros(mask.shape[:2], np.uint8)
    for k, colour in enumerate(colours, start=1):
        target = np.array([c * full for c in colour], np.int64)
        out[np.all(rgb == target, axis=-1)] = k
    return out


# Pure colours of the painted masks, as fractions of full scale, in class order after the background.
SUPERALLOY_COLOURS = [(0, 0, 1), (1, 0, 0)]  # secondary = blue, tertiary = red


def load_color_mask(root: str, classes: list, colours=SUPERALLOY_COLOURS) -> Dataset:
    items = []
    for row in manifest_rows(root, 'color-mask'):
        img = to_grey(read_tiff(os.path.join(root, row['image'])))
        mask = color_mask_classes(read_tiff(os.path.join(root, row['mask'])), colours)
        items.append(Item(os.path.basename(row['image']), row['group'], img, mask))
    return Dataset('color-mask', classes, items)


def rasterise_polygons(shapes: list, width: int, height: int, classes: list) -> np.ndarray:
    im = Image.new('L', (width, height), 0)
    draw = ImageDraw.Draw(im)
    for s in shapes:
        if s.get('shape_type', 'polygon') != 'polygon':
            continue
        label = s['label']
        k = next((i for i, c in enumerate(classes) if c.lower() == label.lower()), None)
        if k is None or k == 0:
            raise ValueError(f'labelme label {label!r} is not one of {classes[1:]}')
        pts = [(float(x), float(y)) for x, y in s['points']]
        if len(pts) >= 3:
            draw.polygon(pts, fill=k, outline=k)
    return np.array(im, np.uint8)


def load_labelme(root: str, classes: list) -> Dataset:
    items = []
    for row in manifest_rows(root, 'labelme'):
        with Image.open(os.path.join(root, row['image'])) as im:
            img = to_grey(np.array(im.convert('RGB')))
        with open(os.path.join(root, row['label'])) as f:
            lab = json.load(f)
        h, w = img.shape
        if (lab.get('imageHeight'), lab.get('imageWidth')) not in ((h, w), (None, None)):
            raise ValueError(f"{row['label']}: labelled size {lab['imageWidth']}x{lab['imageHeight']} is not the image's {w}x{h}")
        mask = rasterise_polygons(lab['shapes'], w, h, classes)
        items.append(Item(os.path.basename(row['image']), row['group'], img, mask))
    return Dataset('labelme', classes, items)


def read_cvat_labelmap(root: str) -> list:
    """labelmap.txt of a CVAT segmentation-mask export: `name:r,g,b:parts:actions` per line; returns [(name, rgb)]
    with the background (black) first."""
    out = []
    with open(os.path.join(root, 'labelmap.txt')) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            name, colour = line.split(':')[:2]
            rgb = tuple(int(v) for v in colour.split(','))
            if len(rgb) != 3:
                raise ValueError(f'{root}/labelmap.txt: colour {colour!r} of {name!r} is not r,g,b')
            out.append((name, rgb))
    bg = [c for c in out if c[1] == (0, 0, 0)]
    if len(bg) != 1:
        raise ValueError(f'{root}/labelmap.txt: expected exactly one black (background) label')
    return bg + [c for c in out if c[1] != (0, 0, 0)]


def load_cvat_mask(root: str, classes: list | None) -> Dataset:
    labelmap = read_cvat_labelmap(root)
    names = ['background'] + [n for n, _ in labelmap[1:]]
    if classes is not None and [c.lower() for c in classes[1:]] != [n.lower() for n in names[1:]]:
        raise ValueError(f'{root}/labelmap.txt: classes {names[1:]} differ from the expected {classes[1:]}')
    groups = {}
    if os.path.exists(os.path.join(root, 'manifest.csv')):
        for r in manifest_rows(root):
            groups[os.path.splitext(os.path.basename(r['image']))[0]] = r['group']
    items = []
    img_dir = os.path.join(root, 'JPEGImages')
    for f in sorted(os.listdir(img_dir)):
        stem = os.path.splitext(f)[0]
        mp = os.path.join(root, 'SegmentationClass', stem + '.png')
        if not os.path.exists(mp):
            continue
        with Image.open(os.path.join(img_dir, f)) as im:
            img = to_grey(np.array(im.convert('RGB') if im.mode not in ('L', 'I;16') else im))
        with Image.open(mp) as im:
            rgb = np.array(im.convert('RGB')).astype(np.int64)
        mask = np.zeros(rgb.shape[:2], np.uint8)
        known = np.all(rgb == 0, axis=-1)
        for k, (_, colour) in enumerate(labelmap[1:], start=1):
            hit = np.all(rgb == np.array(colour), axis=-1)
            mask[hit] = k
            known |= hit
        if not known.all():
            y, x = np.argwhere(~known)[0]
            raise ValueError(f'{mp}: colour {tuple(rgb[y, x])} at ({x}, {y}) is not in labelmap.txt')
        if mask.shape != img.shape:
            raise ValueError(f'{mp}: mask is {mask.shape[1]}x{mask.shape[0]} but the image {img.shape[1]}x{img.shape[0]}')
        items.append(Item(f, groups.get(stem, stem), img, mask))
    return Dataset('cvat-mask', names, items)


def load_twin(root: str) -> Dataset:
    with open(os.path.join(root, 'manifest.json')) as f:
        man = json.load(f)
    if man.get('format') != 'smartscope-twin':
        raise ValueError(f"{root}/manifest.json: format is {man.get('format')!r}, expected 'smartscope-twin'")
    bit_depth = int(man.get('bitDepth', 16))
    full = float((1 << bit_depth) - 1)
    classes = ['background'] + list(man['classes'])
    items = []
    entries = man.get('tiles') or man.get('items') or man.get('entries')
    if entries is None:
        raise ValueError(f'{root}/manifest.json: no tiles listed')
    for t in entries:
        with Image.open(os.path.join(root, t['image'])) as im:
            raw = np.array(im)
        img = (raw.astype(np.float32) / full).clip(0, 1)
        with Image.open(os.path.join(root, t['mask'])) as im:
            mask = np.array(im)
        if mask.ndim == 3:
            mask = mask[..., 0]  # a grey mask saved as RGB: the class value is in every channel
        mask = mask.astype(np.uint8)
        name = os.path.basename(t['image'])
        items.append(Item(name, str(t.get('group', t.get('seed', name))), img, mask, meta=t))
    return Dataset('twin', classes, items, pixel_size_um=man.get('pixelSizeUm'), bit_depth=bit_depth)


def load_dataset(root: str, fmt: str | None, classes: list | None) -> Dataset:
    fmt = fmt or detect_format(root)
    if fmt == 'twin':
        ds = load_twin(root)
    elif fmt == 'cvat-mask':
        ds = load_cvat_mask(root, classes)
    elif classes is None:
        raise ValueError(f'format {fmt} needs the class names (give --classes or a preset)')
    elif fmt == 'mask-tiff':
        ds = load_mask_tiff(root, classes)
    elif fmt == 'color-mask':
        ds = load_color_mask(root, classes)
    elif fmt == 'labelme':
        ds = load_labelme(root, classes)
    else:
        raise ValueError(f'unknown dataset format {fmt!r}')
    if ds.license is None:
        ds.license = read_license(root)
    if not ds.items:
        raise ValueError(f'{root}: no labelled images found')
    return ds


def group_folds(items: list, k: int) -> list:
    """Splits the sorted group names into k folds, greedily balancing the number of images (largest groups first,
    ties by name), so every fold is deterministic and no group straddles two folds."""
    sizes = {}
    for it in items:
        sizes[it.group] = sizes.get(it.group, 0) + 1
    if len(sizes) < k:
        raise ValueError(f'{len(sizes)} groups cannot make {k} folds')
    folds = [[] for _ in range(k)]
    load = [0] * k
    for g in sorted(sizes, key=lambda g: (-sizes[g], g)):
        i = min(range(k), key=lambda j: (load[j], j))
        folds[i].append(g)
        load[i] += sizes[g]
    return [sorted(f) for f in folds]


def bin_items(items: list, k: int) -> None:
    """Averages images in k x k blocks (as the runtime bins frames for such a model); a mask block takes its highest
    class value, so thin, rare classes numbered last (cracks) survive the binning."""
    for it in items:
        h, w = it.mask.shape
        h2, w2 = h // k, w // k
        img = it.image[: h2 * k, : w2 * k].reshape(h2, k, w2, k)
        it.image = img.mean(axis=(1, 3)).astype(np.float32)
        it.mask = it.mask[: h2 * k, : w2 * k].reshape(h2, k, w2, k).max(axis=(1, 3)).astype(np.uint8)
