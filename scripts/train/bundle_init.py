"""Starting weights from a shipped bundle, for fine-tuning it on new labelled images.

A bundle carries only its ONNX graph, where the export folded each BatchNorm into the convolution before it. The
folded weights go back into the U-Net's convolutions, and each BatchNorm is set to the identity plus the folded bias
(running mean 0, variance 1, scale sqrt(1 + eps)), so the rebuilt network computes exactly what the bundle did; the
BatchNorm statistics then stay frozen while fine-tuning (few new images estimate them badly).
"""
import json
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from unet import UNet


def read_bundle(bundle_dir: str) -> dict:
    with open(os.path.join(bundle_dir, 'manifest.json')) as f:
        return json.load(f)


def conv_weights(onnx_path: str) -> list:
    """(weight, bias) of every Conv node in graph order (the order the network computes them)."""
    m = onnx.load(onnx_path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    # The exporter leaves some folded tensors as Constant nodes, and shares equal ones through Identity nodes.
    for n in m.graph.node:
        if n.op_type == 'Constant':
            for a in n.attribute:
                if a.name == 'value':
                    inits[n.output[0]] = numpy_helper.to_array(a.t)
        elif n.op_type == 'Identity' and n.input[0] in inits:
            inits[n.output[0]] = inits[n.input[0]]
    out = []
    for n in m.graph.node:
        if n.op_type == 'Conv':
            w = inits[n.input[1]]
            b = inits[n.input[2]] if len(n.input) > 2 else np.zeros(w.shape[0], np.float32)
            out.append((w, b))
    return out


def unet_from_bundle(bundle_dir: str) -> tuple:
    """The bundle's U-Net with its weights, and the manifest."""
    man = read_bundle(bundle_dir)
    model = man['model']
    if model.get('architecture') != 'unet':
        raise ValueError(f"{bundle_dir}: architecture {model.get('architecture')!r} cannot be fine-tuned here (unet only)")
    net = UNet(man['input']['channels'], len(man['classes']), model['base'], model['depth'])
    load_folded(net, conv_weights(os.path.join(bundle_dir, man['model']['file'])))
    return net, man


def load_folded(net: nn.Module, weights: list) -> None:
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    if len(convs) != len(weights):
        raise ValueError(f'bundle has {len(weights)} convolutions, the network {len(convs)}')
    # Each 3x3 conv is followed by its BatchNorm in registration order; the 1x1 head has its own bias.
    mods = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    with torch.no_grad():
        wi = 0
        for i, m in enumerate(mods):
            if not isinstance(m, nn.Conv2d):
                continue
            w, b = weights[wi]
            wi += 1
            if tuple(m.weight.shape) != tuple(w.shape):
                raise ValueError(f'convolution {wi}: bundle shape {tuple(w.shape)}, network {tuple(m.weight.shape)}')
            m.weight.copy_(torch.from_numpy(w))
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            if m.bias is not None:
                m.bias.copy_(torch.from_numpy(b))
            elif isinstance(nxt, nn.BatchNorm2d):
                nxt.running_mean.zero_()
                nxt.running_var.fill_(1.0)
                nxt.weight.fill_(float(np.sqrt(1.0 + nxt.eps)))
                nxt.bias.copy_(torch.from_numpy(b))
            else:
                raise ValueError(f'convolution {wi} has a bias in the bundle but none in the network')


def freeze_batchnorm(net: nn.Module) -> None:
    """Keeps BatchNorm running statistics fixed (call after every net.train())."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
