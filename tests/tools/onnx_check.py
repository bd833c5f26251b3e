"""ONNX's own checks of an exported model: python3 onnx_check.py MODEL.onnx

The checker with full_check (which runs shape inference too), then strict shape inference with type
checks. Prints the IR version, the opset and the inferred logits shape.
"""
import sys

import onnx

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
dims = [d.dim_param or str(d.dim_value) for d in inferred.graph.output[0].type.tensor_type.shape.dim]
opset = {o.domain: o.version for o in model.opset_import}[""]
print(f"ir {model.ir_version} opset {opset} logits {' '.join(dims)}")
