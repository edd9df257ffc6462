"""ONNX export: opset 17, dynamic batch / height / width, softmax included, checked with the ONNX checker."""
import onnx
import torch

from unet import WithSoftmax


def export_onnx(net, path: str, tile: int) -> None:
    model = WithSoftmax(net).eval()
    dummy = torch.zeros(1, 1, tile, tile)
    torch.onnx.export(
        model, dummy, path, opset_version=17, input_names=['image'], output_names=['probs'],
        dynamic_axes={'image': {0: 'batch', 2: 'height', 3: 'width'}, 'probs': {0: 'batch', 2: 'height', 3: 'width'}},
        do_constant_folding=True,
    )
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.producer_name = 'smartscope scripts/train'
    onnx.save(m, path)
