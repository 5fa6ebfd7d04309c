"""Deployment: ONNX graphs of sepkit models (``graphs``), their export (``onnx_export``) and the onnxruntime backend
(``onnx_runtime``) that runs them through the same inference engine."""
