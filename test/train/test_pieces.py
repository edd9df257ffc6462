#!/usr/bin/python3
"""Unit tests of the training pieces (losses, augmentation, starting from a bundle). Run by test/train/pieces.test.ts
with Debian's Python: /usr/bin/python3 test/train/test_pieces.py"""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'scripts', 'train'))
from augment import spatial, stain  # noqa: E402
from data import load_dataset  # noqa: E402
from bundle_init import freeze_batchnorm, unet_from_bundle  # noqa: E402
from export import export_onnx  # noqa: E402
from scoring import focal, lovasz_softmax, seg_loss  # noqa: E402
from select_postprocess import Objects, components, match_counts  # noqa: E402
from unet import UNet  # noqa: E402
from PIL import Image  # noqa: E402

torch.set_num_threads(1)


class Losses(unittest.TestCase):
    def setUp(self):
        g = torch.Generator().manual_seed(3)
        self.logits = torch.randn(2, 3, 8, 8, generator=g)
        self.target = torch.randint(0, 3, (2, 8, 8), generator=g)
        self.w = torch.tensor([1.0, 2.0, 5.0])

    def test_focal_with_gamma_0_is_weighted_cross_entropy(self):
        ce = F.cross_entropy(self.logits, self.target, weight=self.w)
        self.assertAlmostEqual(float(focal(self.logits, self.target, self.w, gamma=0.0)), float(ce), places=5)

    def test_focal_discounts_easy_pixels(self):
        self.assertLess(float(focal(self.logits, self.target, self.w)), float(focal(self.logits, self.target, self.w, gamma=0.0)))

    def test_lovasz_is_zero_for_a_perfect_prediction_and_one_for_a_wholly_wrong_one(self):
        onehot = F.one_hot(self.target, 3).permute(0, 3, 1, 2).float()
        self.assertAlmostEqual(float(lovasz_softmax(onehot, self.target)), 0.0, places=6)
        wrong = F.one_hot((self.target + 1) % 3, 3).permute(0, 3, 1, 2).float()
        self.assertAlmostEqual(float(lovasz_softmax(wrong, self.target)), 1.0, places=6)

    def test_every_loss_is_finite_and_differentiable_and_unknown_names_are_refused(self):
        for kind in ('ce-dice', 'focal-dice', 'focal-lovasz'):
            x = self.logits.clone().requires_grad_(True)
            loss = seg_loss(x, self.target, self.w, kind)
            loss.backward()
            self.assertTrue(torch.isfinite(loss))
            self.assertGreater(float(x.grad.abs().sum()), 0)
        with self.assertRaises(ValueError):
            seg_loss(self.logits, self.target, self.w, 'hinge')


class Augmentation(unittest.TestCase):
    def test_off_is_identity(self):
        x = torch.rand(2, 1, 16, 16)
        y = torch.randint(0, 3, (2, 16, 16))
        xo, yo = spatial(x, y, torch.Generator().manual_seed(1))
        self.assertTrue(torch.equal(x, xo) and torch.equal(y, yo))

    def test_image_and_mask_move_together_and_the_mask_keeps_its_classes(self):
        y = torch.zeros(4, 64, 64, dtype=torch.long)
        y[:, 20:44, 28:36] = 2
        y[:, 5:10, 5:60] = 1
        x = (y > 0).float()[:, None]
        xo, yo = spatial(x, y, torch.Generator().manual_seed(5), scale=0.2, elastic=4.0)
        self.assertEqual(set(torch.unique(yo).tolist()) - {0, 1, 2}, set())
        self.assertFalse(torch.equal(y, yo))
        agree = ((xo[:, 0] > 0.5) == (yo > 0)).float().mean()
        self.assertGreater(float(agree), 0.97)

    def test_stain_stays_in_range_and_varies_smoothly(self):
        x = torch.full((3, 1, 32, 32), 0.5)
        xs = stain(x, torch.Generator().manual_seed(2), 1.0)
        self.assertTrue(bool((xs >= 0).all() and (xs <= 1).all()))
        self.assertGreater(float(xs.std()), 0.0)
        self.assertLess(float((xs[..., 1:] - xs[..., :-1]).abs().max()), 0.05)


class PostprocessSelection(unittest.TestCase):
    def test_regions_are_8_connected_and_of_one_class(self):
        m = np.array([[1, 0, 0, 2],
                      [0, 1, 0, 2],
                      [0, 0, 1, 1]], np.uint8)
        labels, n = components(m)
        self.assertEqual(n, 2)  # the diagonal 1s join; the 2s are their own region though they touch the 1s
        self.assertEqual(labels[0, 0], labels[2, 3])
        self.assertNotEqual(labels[0, 3], labels[0, 0])

    def test_objects_match_one_to_one_above_the_iou_and_small_regions_are_dropped(self):
        truth = np.zeros((10, 10), np.uint8)
        truth[1:4, 1:4] = 1  # 9 px
        truth[7:9, 7:9] = 1  # 4 px
        pred = np.zeros((10, 10), np.uint8)
        pred[1:4, 1:3] = 1  # 6 px inside the first: IoU 6/9
        pred[5, 5] = 1  # a speck
        fg = pred.astype(np.float32)
        t, p = Objects(truth), Objects(pred, fg)
        self.assertEqual(match_counts(t, p, 1, 0.5), (1, 2, 2))
        self.assertEqual(match_counts(t, p, 2, 0.5), (1, 1, 2))
        self.assertEqual(match_counts(t, p, 1, 0.7), (0, 2, 2))


class Readers(unittest.TestCase):
    def test_cvat_segmentation_mask_export(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, 'JPEGImages'))
            os.makedirs(os.path.join(d, 'SegmentationClass'))
            with open(os.path.join(d, 'labelmap.txt'), 'w') as f:
                f.write('# label:color_rgb:parts:actions\nbackground:0,0,0::\npit:250,50,83::\ncrack:51,221,255::\n')
            with open(os.path.join(d, 'manifest.csv'), 'w') as f:
                f.write('image,group\nJPEGImages/s1.png,sample-1\n')
            rgb = np.zeros((8, 12, 3), np.uint8)
            rgb[3, 2:5] = (250, 50, 83)
            rgb[7, 11] = (51, 221, 255)
            for stem in ('s1', 's2'):
                Image.fromarray(np.full((8, 12), 120, np.uint8)).save(os.path.join(d, 'JPEGImages', stem + '.png'))
                Image.fromarray(rgb).save(os.path.join(d, 'SegmentationClass', stem + '.png'))
            ds = load_dataset(d, None, None)
            self.assertEqual((ds.format, ds.classes), ('cvat-mask', ['background', 'pit', 'crack']))
            self.assertEqual([it.group for it in ds.items], ['sample-1', 's2'])
            m = ds.items[0].mask
            self.assertEqual((int(m[3, 2]), int(m[3, 4]), int(m[7, 11]), int((m > 0).sum())), (1, 1, 2, 4))
            rgb[0, 0] = (1, 2, 3)
            Image.fromarray(rgb).save(os.path.join(d, 'SegmentationClass', 's2.png'))
            with self.assertRaisesRegex(ValueError, 'not in labelmap.txt'):
                load_dataset(d, None, None)

    def test_class_index_png_masks_without_a_manifest(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, 'images'))
            os.makedirs(os.path.join(d, 'masks'))
            mask = np.zeros((6, 6), np.uint8)
            mask[1:3, 1:3] = 2
            Image.fromarray(np.full((6, 6), 50, np.uint8)).save(os.path.join(d, 'images', 'a.png'))
            Image.fromarray(mask).save(os.path.join(d, 'masks', 'a.png'))
            ds = load_dataset(d, 'mask-tiff', ['background', 'x', 'y'])
            self.assertEqual([(it.name, it.group) for it in ds.items], [('a.png', 'a')])
            self.assertTrue(np.array_equal(ds.items[0].mask, mask))


class StartFromBundle(unittest.TestCase):
    def test_the_rebuilt_network_computes_what_the_bundle_computes(self):
        torch.manual_seed(0)
        net = UNet(1, 3, 4, 3)
        for m in net.modules():  # BatchNorm with statistics unlike the identity
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.2, 0.2)
        net.eval()
        with tempfile.TemporaryDirectory() as d:
            export_onnx(net, os.path.join(d, 'model.onnx'), 32)
            with open(os.path.join(d, 'manifest.json'), 'w') as f:
                json.dump({'name': 'x', 'version': '1.0.0', 'classes': ['background', 'a', 'b'],
                           'model': {'file': 'model.onnx', 'architecture': 'unet', 'base': 4, 'depth': 3, 'sha256': '0'},
                           'input': {'channels': 1, 'binning': 1, 'normalisation': {'mean': 0.5, 'std': 0.2}}}, f)
            rebuilt, man = unet_from_bundle(d)
        self.assertEqual(man['name'], 'x')
        rebuilt.eval()
        x = torch.randn(2, 1, 32, 48)
        with torch.no_grad():
            self.assertLess(float((net(x) - rebuilt(x)).abs().max()), 1e-4)
        # Fine-tuning keeps the statistics: training mode with frozen BatchNorm still computes the same.
        rebuilt.train()
        freeze_batchnorm(rebuilt)
        with torch.no_grad():
            self.assertLess(float((net(x) - rebuilt(x)).abs().max()), 1e-4)

    def test_a_network_of_another_shape_is_refused(self):
        net = UNet(1, 2, 4, 2).eval()
        with tempfile.TemporaryDirectory() as d:
            export_onnx(net, os.path.join(d, 'model.onnx'), 16)
            with open(os.path.join(d, 'manifest.json'), 'w') as f:
                json.dump({'name': 'x', 'classes': ['background', 'a'], 'model': {'file': 'model.onnx', 'architecture': 'unet', 'base': 8, 'depth': 2},
                           'input': {'channels': 1}}, f)
            with self.assertRaisesRegex(ValueError, 'bundle shape'):
                unet_from_bundle(d)


if __name__ == '__main__':
    unittest.main(verbosity=2)
