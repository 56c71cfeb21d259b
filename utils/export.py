"""Hosting a trained encoder: ONNX export, int8 quantisation, an ONNX Runtime encoder, benchmarks.

- :func:`export_onnx` traces a ``torch.nn.Module`` (images -> vectors) into an ONNX file with a
  dynamic batch axis (``torch.onnx.export``, TorchScript-based exporter, opset 17).
- :class:`OnnxEncoder` serves that file with ONNX Runtime on a fixed number of threads; it takes
  the same image batches as :class:`utils.image_search.TorchEncoder` (validated by
  :func:`utils.image_search.check_images`), so it drops into
  :class:`~utils.image_search.ImageIndex`.
- :func:`quantize_onnx` writes an int8 copy with ONNX Runtime's quantiser. Both modes use the
  affine scheme of Jacob et al. (CVPR 2018), ``x ≈ scale · (q − zero_point)``:

  * ``"dynamic"``: weights quantised once, offline; each activation's scale and zero point are
    computed at run time from that tensor's min and max (no calibration data). By default only
    ``MatMul``/``Gemm`` (linear layers), the recipe of PyTorch's dynamic quantisation.
  * ``"static"``: activation ranges fixed beforehand from a *calibration* set (min/max over the
    batches given), QDQ format, weights per output channel (Krishnamoorthi, 2018, recommends
    per-channel weights and per-tensor activations). Conv and MatMul both quantised.
- :func:`compare_outputs` measures how far a served model's vectors are from the reference
  (max absolute difference, cosine), :func:`file_size_bytes` the artefact's size, and
  :func:`benchmark_batches` latency and throughput against batch size, timed per call with
  :class:`utils.serving.Pipeline` (one stage, ``embed``).

Export and quantisation write files: pass paths in a temporary directory, never the repository.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ._checks import check_choice, check_positive_int
from .image_search import TorchEncoder, check_images
from .serving import Pipeline

__all__ = [
    "OnnxEncoder",
    "benchmark_batches",
    "compare_outputs",
    "export_onnx",
    "file_size_bytes",
    "quantize_onnx",
]

QUANT_MODES = ("dynamic", "static")


def _check_out_path(path: object, name: str = "path") -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{name}: directory {parent!r} does not exist")
    return path


def _check_model_file(path: object, name: str = "path") -> str:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{name}: model file {path!r} does not exist")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{name}: model file {path!r} is empty (0 bytes)")
    return path


def export_onnx(
    module, path: str | os.PathLike, input_shape: Sequence[int] = (1, 1, 28, 28), *, opset: int = 17
) -> str:
    """Export ``module`` (eval mode, restored afterwards) to ONNX at ``path``; returns the path.

    The graph has one input ``images`` of shape ``(batch, *input_shape[1:])`` (the batch axis is
    dynamic) and one output ``embeddings`` ``(batch, d)``. The module is traced with a zero
    tensor of ``input_shape``: Python control flow that depends on values is frozen at that
    trace, so check the exported model with :func:`compare_outputs` on real inputs.
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    path = _check_out_path(path)
    shape = tuple(input_shape)
    if len(shape) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(f"input_shape must be (batch, ...) positive ints, got {input_shape!r}")
    opset = check_positive_int(opset, "opset")
    was_training = module.training
    module.eval()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and exporter deprecation chatter
            torch.onnx.export(
                module,
                (torch.zeros(shape),),
                path,
                input_names=["images"],
                output_names=["embeddings"],
                dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
    finally:
        module.train(was_training)
    return path


class OnnxEncoder:
    """An ONNX model file served by ONNX Runtime (CPU): images -> (n, d) float32 vectors.

    ``num_threads`` intra-op threads (1 by default: a serving process usually runs one model
    per core and scales out by processes), one inter-op thread, all graph optimisations on.
    Images are validated by :func:`~utils.image_search.check_images` and laid out as NCHW like
    :class:`~utils.image_search.TorchEncoder`; ``batch_size`` images go through one ``run``.
    A corrupt or missing file is a ``ValueError`` naming the path.
    """

    def __init__(
        self, path: str | os.PathLike, *, num_threads: int = 1, batch_size: int = 256
    ) -> None:
        import onnxruntime as ort

        self.path = _check_model_file(path)
        self.num_threads = check_positive_int(num_threads, "num_threads")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.num_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        # idle worker threads sleep instead of spinning (like OMP_WAIT_POLICY=PASSIVE in the
        # Makefile): on a shared 2-core machine spinning threads slow every other process down
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                self.path, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ValueError(
                f"model file {self.path!r} is not a loadable ONNX model: {exc}"
            ) from exc
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_shape = tuple(inp.shape)  # e.g. ('batch', 1, 28, 28)

    def run_nchw(self, batch: np.ndarray) -> np.ndarray:
        """One ONNX Runtime call on an already laid-out float32 (B, C, H, W) batch (no checks):
        the hot path that :func:`benchmark_batches` times."""
        return self.session.run(None, {self.input_name: batch})[0]

    def __call__(self, images: object) -> np.ndarray:
        X = TorchEncoder.to_nchw(check_images(images))
        expected = self.input_shape[1:]
        if all(isinstance(s, int) for s in expected) and tuple(X.shape[1:]) != expected:
            raise ValueError(
                f"images: the model expects (n, {str(expected)[1:-1]}) after layout, got"
                f" {tuple(X.shape)}"
            )
        X = np.ascontiguousarray(X, dtype=np.float32)
        out = [self.run_nchw(X[s : s + self.batch_size]) for s in range(0, len(X), self.batch_size)]
        return np.concatenate(out).astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return f"OnnxEncoder({os.path.basename(self.path)!r}, num_threads={self.num_threads})"


class _ArrayCalibrationReader:
    """ONNX Runtime ``CalibrationDataReader`` over an in-memory NCHW array, in batches."""

    def __init__(self, input_name: str, data: np.ndarray, batch_size: int) -> None:
        self._batches = iter(
            [{input_name: data[s : s + batch_size]} for s in range(0, len(data), batch_size)]
        )

    def get_next(self) -> dict | None:
        return next(self._batches, None)


def quantize_onnx(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    mode: str = "dynamic",
    *,
    calibration: object = None,
    op_types: Sequence[str] | None = None,
    per_channel: bool | None = None,
    calibration_batch: int = 64,
) -> str:
    """Write an int8-quantised copy of the ONNX model ``src`` to ``dst``; returns ``dst``.

    ``mode="dynamic"``: int8 weights, activations quantised on the fly; ``op_types`` defaults to
    ``("MatMul", "Gemm")``. ``mode="static"``: needs ``calibration`` images (the same formats an
    encoder takes, e.g. a few hundred *training* images, never test queries), QDQ format, uint8
    activations, int8 weights; ``op_types`` defaults to every type the quantiser supports.
    ``per_channel`` defaults to False (dynamic) and True (static). The model is first run through
    ``quant_pre_process`` (shape inference and graph clean-up) in ``dst``'s directory.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = _check_model_file(src, "src")
    dst = _check_out_path(dst, "dst")
    mode = check_choice(mode, "mode", QUANT_MODES)
    if os.path.abspath(src) == os.path.abspath(dst):
        raise ValueError("dst must differ from src (the fp32 model is the reference)")
    if op_types is not None and (
        isinstance(op_types, str) or not all(isinstance(t, str) for t in op_types)
    ):
        raise TypeError(f"op_types must be a sequence of ONNX op names, got {op_types!r}")
    calibration_batch = check_positive_int(calibration_batch, "calibration_batch")
    if mode == "dynamic" and calibration is not None:
        raise ValueError("calibration is only used by mode='static'")
    if mode == "static":
        if calibration is None:
            raise ValueError("mode='static' needs calibration images (a few hundred train images)")
        calib = np.ascontiguousarray(
            TorchEncoder.to_nchw(check_images(calibration, "calibration")), dtype=np.float32
        )
    pre = os.path.splitext(dst)[0] + ".pre.onnx"
    try:
        quant_pre_process(src, pre)
    except Exception as exc:
        raise ValueError(f"src: {src!r} could not be prepared for quantisation: {exc}") from exc
    if mode == "dynamic":
        quantize_dynamic(
            pre,
            dst,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=list(op_types) if op_types else ["MatMul", "Gemm"],
            per_channel=bool(per_channel) if per_channel is not None else False,
        )
    else:
        import onnxruntime as ort

        name = ort.InferenceSession(pre, providers=["CPUExecutionProvider"]).get_inputs()[0].name

        class Reader(_ArrayCalibrationReader, CalibrationDataReader):
            pass

        quantize_static(
            pre,
            dst,
            Reader(name, calib, calibration_batch),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True if per_channel is None else bool(per_channel),
            op_types_to_quantize=list(op_types) if op_types else None,
        )
    os.remove(pre)
    return dst


def file_size_bytes(path: str | os.PathLike) -> int:
    """Size of a model file on disk, in bytes (what a deploy ships and a server loads)."""
    return os.path.getsize(_check_model_file(path))


def compare_outputs(reference: object, served: object) -> dict[str, float]:
    """How far ``served`` vectors (n, d) are from ``reference`` (n, d), row by row.

    Returns ``max_abs_diff`` (the largest elementwise difference), ``mean_cosine`` and
    ``min_cosine`` (cosine of each served vector with its reference: what a cosine index sees).
    """
    from ._checks import as_matrix

    R = as_matrix(reference, "reference", dtype=np.float64)
    S = as_matrix(served, "served", dtype=np.float64)
    if R.shape != S.shape:
        raise ValueError(f"served has shape {S.shape} but reference has {R.shape}; they must match")
    num = (R * S).sum(1)
    den = np.maximum(np.linalg.norm(R, axis=1) * np.linalg.norm(S, axis=1), 1e-12)
    cos = num / den
    return {
        "max_abs_diff": float(np.abs(R - S).max()),
        "mean_cosine": float(cos.mean()),
        "min_cosine": float(cos.min()),
    }


def benchmark_batches(
    run: Callable[[np.ndarray], object],
    images: object,
    batch_sizes: Sequence[int] = (1, 8, 64, 256),
    *,
    images_per_size: int = 512,
    repeats: int = 3,
    warmup: int = 2,
) -> pd.DataFrame:
    """Latency and throughput of ``run(batch)`` against batch size.

    ``run`` takes one float32 NCHW batch (e.g. :meth:`OnnxEncoder.run_nchw`, or a torch module
    wrapped in ``torch.no_grad``). For each batch size ``B``, ``images_per_size`` images (at
    least one batch) are cut into batches of ``B``; each call is one request of a one-stage
    :class:`utils.serving.Pipeline`, so its wall-clock time is measured like any serving stage.
    The pass is repeated ``repeats`` times after ``warmup`` calls; the repeat with the smallest
    median is kept (the least disturbed by other processes on a shared machine).

    Returns one row per batch size: ``batch_size``, ``ms_per_call_p50``, ``ms_per_call_p99``,
    ``ms_per_image`` (p50 call / B) and ``images_per_s`` (B / p50 call).
    """
    if not callable(run):
        raise TypeError(f"run must be callable (batch -> vectors), got {type(run).__name__}")
    X = np.ascontiguousarray(TorchEncoder.to_nchw(check_images(images)), dtype=np.float32)
    if isinstance(batch_sizes, int) or len(batch_sizes) == 0:
        raise ValueError(f"batch_sizes must be a non-empty sequence of ints, got {batch_sizes!r}")
    sizes = [check_positive_int(b, "batch_sizes") for b in batch_sizes]
    if max(sizes) > len(X):
        raise ValueError(f"batch size {max(sizes)} is larger than the {len(X)} images given")
    images_per_size = check_positive_int(images_per_size, "images_per_size")
    repeats = check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")

    def embed(state: dict) -> dict:
        state["out"] = run(state["batch"])
        return state

    pipe = Pipeline([("embed", embed)])
    rows = []
    for B in sizes:
        n_calls = max(1, images_per_size // B)
        starts = [(i * B) % (len(X) - B + 1) for i in range(n_calls)]
        requests = [{"batch": X[s : s + B]} for s in starts]
        for r in requests[:warmup]:
            pipe.run(r)
        best = None
        for _ in range(repeats):
            _, table = pipe.serve(requests)
            ms = table["embed"].to_numpy()
            if best is None or np.median(ms) < np.median(best):
                best = ms
        p50 = float(np.median(best))
        rows.append(
            {
                "batch_size": B,
                "ms_per_call_p50": p50,
                "ms_per_call_p99": float(np.percentile(best, 99)),
                "ms_per_image": p50 / B,
                "images_per_s": 1e3 * B / p50,
            }
        )
    return pd.DataFrame(rows)
