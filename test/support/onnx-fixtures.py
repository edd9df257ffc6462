#!/usr/bin/python3
"""Writes small ONNX models with exactly known behaviour for the inference tests.

  onnx-fixtures.py OUT_DIR

threshold.onnx   image [N,1,H,W] -> probs [N,2,H,W]: softmax of (b - a*x, a*x - b), i.e. P(defect) = sigmoid(2(b - a x)):
                 pixels darker than x = b/a are defects (a steep step, so the answer is exact on clean images).
threeclass.onnx  probs [N,3,H,W]: class 1 where x < -1, class 2 where x > 1, background between.
wrong_input.onnx image fixed [1,3,224,224] (an RGB classifier input), output probs [1,2,224,224].
wrong_output.onnx image [N,1,H,W] -> probs [N,4,H,W] (four channels where a two-class manifest expects two).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)], producer_name='smartscope tests')
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def conv_softmax(name, weights, bias, in_shape, out_shape):
    w = numpy_helper.from_array(np.asarray(weights, np.float32).reshape(len(bias), in_shape[1], 1, 1), 'w')
    b = numpy_helper.from_array(np.asarray(bias, np.float32), 'b')
    nodes = [
        helper.make_node('Conv', ['image', 'w', 'b'], ['logits']),
        helper.make_node('Softmax', ['logits'], ['probs'], axis=1),
    ]
    inp = helper.make_tensor_value_info('image', TensorProto.FLOAT, in_shape)
    out = helper.make_tensor_value_info('probs', TensorProto.FLOAT, out_shape)
    return helper.make_graph(nodes, name, [inp], [out], [w, b])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    dyn = ['N', 1, 'H', 'W']
    a = 40.0
    # logits: background = a*x, defect = -a*x  =>  P(defect) = sigmoid(-2 a x): defect where the normalised x < 0.
    save(conv_softmax('threshold', [[a], [-a]], [0.0, 0.0], dyn, ['N', 2, 'H', 'W']), os.path.join(out, 'threshold.onnx'))
    # Three classes: background logit 0; class 1 logit a*(-x - 1); class 2 logit a*(x - 1).
    save(conv_softmax('threeclass', [[0.0], [-a], [a]], [0.0, -a, -a], dyn, ['N', 3, 'H', 'W']), os.path.join(out, 'threeclass.onnx'))
    save(conv_softmax('wrong_input', [[1, 1, 1], [-1, -1, -1]], [0.0, 0.0], [1, 3, 224, 224], [1, 2, 224, 224]), os.path.join(out, 'wrong_input.onnx'))
    save(conv_softmax('wrong_output', [[1], [2], [3], [4]], [0, 0, 0, 0], dyn, ['N', 4, 'H', 'W']), os.path.join(out, 'wrong_output.onnx'))


if __name__ == '__main__':
    main()
