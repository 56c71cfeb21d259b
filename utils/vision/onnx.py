"""EfficientNet-Lite0 exported to ONNX once and cached, in fp32 or int8.

:func:`cached_onnx` returns the path of
``data/cache/efficientnet_lite0/lite0_{size}_c{channels}_{variant}.onnx`` (or under
``$MLSD_DATA_CACHE``), building it on first use with :func:`utils.export.export_onnx`
(input: (batch, 1 or 3, input_size, input_size) pixels in [0, 1]; the graph holds the grey->RGB
expansion and the scaling of :class:`~utils.vision.efficientnet.EfficientNetEmbedder`, not the
resize) and
:func:`utils.export.quantize_onnx` for the int8 variants:

- ``"fp32"``: the exported model, checked against PyTorch on a fixed input (minimum cosine
  0.9999) before it is cached;
- ``"int8_dynamic"``: int8 weights of every Conv and MatMul, activations quantised at run time;
- ``"int8_static"``: QDQ int8 with activation ranges calibrated on ``calibration`` images (pass
  training images, never queries); the cache name carries a hash of the calibration set.

A file that fails to load is rebuilt. The files are build products, never committed (the
cache folder is git-ignored).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from .._checks import check_choice, check_positive_int
from ..data._cache import cache_dir
from ..image_search import TorchEncoder, check_images

__all__ = ["VARIANTS", "cached_onnx"]

VARIANTS = ("fp32", "int8_dynamic", "int8_static")


def _fp32(size: int, in_channels: int, path: Path) -> None:
    import torch

    from ..export import compare_outputs, export_onnx
    from .efficientnet import EfficientNetEmbedder

    module = EfficientNetEmbedder(size)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        out = os.path.join(tmp, path.name)
        export_onnx(module, out, (1, in_channels, size, size))
        from ..export import OnnxEncoder

        g = torch.Generator().manual_seed(0)
        probe = torch.rand(4, in_channels, size, size, generator=g).numpy()
        ref = TorchEncoder(module)(probe)
        got = OnnxEncoder(out)(probe)
        cos = compare_outputs(ref, got)["min_cosine"]
        if cos < 0.9999:
            raise RuntimeError(
                f"ONNX export of EfficientNet-Lite0 differs from PyTorch (cos {cos})"
            )
        os.replace(out, path)


def cached_onnx(
    input_size: int = 224,
    variant: str = "fp32",
    *,
    in_channels: int = 1,
    calibration: object = None,
    cache: str | os.PathLike | None = None,
) -> str:
    """Path of EfficientNet-Lite0 (1280-d features) as ONNX, for input batches of shape
    ``(batch, in_channels, input_size, input_size)`` in [0, 1] (1 grey, 3 RGB). The export is
    traced at that size, so the graph holds no resize: resize images first (for example with
    :func:`utils.image_edits.resize_batch`); :class:`utils.export.OnnxEncoder` rejects any other
    shape with a ``ValueError``.

    ``variant``: one of :data:`VARIANTS`; ``"int8_static"`` needs ``calibration`` images.
    """
    input_size = check_positive_int(input_size, "input_size")
    variant = check_choice(variant, "variant", VARIANTS)
    if in_channels not in (1, 3) or isinstance(in_channels, bool):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels!r}")
    if variant == "int8_static":
        if calibration is None:
            raise ValueError("variant='int8_static' needs calibration images (training images)")
        calib = check_images(calibration, "calibration")
        tag = "_" + hashlib.sha256(np.ascontiguousarray(calib).tobytes()).hexdigest()[:10]
    else:
        if calibration is not None:
            raise ValueError("calibration is only used by variant='int8_static'")
        calib, tag = None, ""
    folder = cache_dir(cache) / "efficientnet_lite0"
    folder.mkdir(parents=True, exist_ok=True)
    base = f"lite0_{input_size}_c{in_channels}"
    fp32 = folder / f"{base}_fp32.onnx"
    if not _loads(fp32):
        _fp32(input_size, in_channels, fp32)
    if variant == "fp32":
        return str(fp32)
    path = folder / f"{base}_{variant}{tag}.onnx"
    if not _loads(path):
        from ..export import quantize_onnx

        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            out = os.path.join(tmp, path.name)
            if variant == "int8_dynamic":
                quantize_onnx(str(fp32), out, "dynamic", op_types=("Conv", "MatMul", "Gemm"))
            else:
                quantize_onnx(str(fp32), out, "static", calibration=calib)
            os.replace(out, path)
    return str(path)


def _loads(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        import onnx

        onnx.checker.check_model(str(path))
    except Exception:
        return False
    return True
