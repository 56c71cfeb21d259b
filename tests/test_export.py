"""Tests for utils.export (ONNX export, quantisation, OnnxEncoder, benchmark) and utils.ingest
(upload checks, spooling, model input, near-duplicate collapse)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.export import (
    OnnxEncoder,
    benchmark_batches,
    compare_outputs,
    export_onnx,
    file_size_bytes,
    quantize_onnx,
)
from utils.image_search import TorchEncoder, load_image
from utils.ingest import (
    StageError,
    check_upload,
    collapse_near_duplicates,
    encode_image_bytes,
    guard_stages,
    spool_upload,
    to_model_input,
)
from utils.models.metric_learning import DigitCNN


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    from utils.data import load_mnist_5k

    X, _ = load_mnist_5k()
    return X[:200]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, digits):
    torch.manual_seed(0)
    model = DigitCNN(1, dim=16, width=4).eval()
    d = tmp_path_factory.mktemp("onnx")
    path = export_onnx(model, d / "enc.onnx")
    return model, path, d


# --- export and parity -----------------------------------------------------------------------
def test_export_matches_torch(exported, digits):
    model, path, _ = exported
    ref = TorchEncoder(model)(digits)
    out = OnnxEncoder(path, batch_size=64)(digits)  # several runs, dynamic batch axis
    assert out.shape == ref.shape == (200, 16)
    diff = compare_outputs(ref, out)
    assert diff["max_abs_diff"] < 1e-4
    assert diff["min_cosine"] > 0.99999
    assert not model.training  # eval mode restored as it was
    assert file_size_bytes(path) > 4 * sum(p.numel() for p in model.parameters())


def test_export_restores_training_mode(tmp_path):
    model = DigitCNN(1, dim=8, width=4).train()
    export_onnx(model, tmp_path / "m.onnx")
    assert model.training


def test_quantize_dynamic_and_static(exported, digits):
    model, path, d = exported
    ref = TorchEncoder(model)(digits)
    dyn = quantize_onnx(path, d / "dyn.onnx", "dynamic")
    st = quantize_onnx(path, d / "st.onnx", "static", calibration=digits[:64])
    assert file_size_bytes(dyn) < file_size_bytes(path)
    assert file_size_bytes(st) < file_size_bytes(path)
    assert not (d / "dyn.pre.onnx").exists()  # the pre-processed temp file is removed
    for q in (dyn, st):
        c = compare_outputs(ref, OnnxEncoder(q)(digits))
        assert 0 < c["max_abs_diff"] < 0.5  # quantised: close, but not equal
        assert c["mean_cosine"] > 0.98


def test_compare_outputs_values():
    r = np.array([[1.0, 0.0], [0.0, 2.0]])
    s = np.array([[1.0, 0.5], [0.0, -2.0]])
    c = compare_outputs(r, s)
    assert c["max_abs_diff"] == pytest.approx(4.0)
    assert c["min_cosine"] == pytest.approx(-1.0)
    assert c["mean_cosine"] == pytest.approx((1 / np.sqrt(1.25) - 1) / 2)


def test_benchmark_batches(exported, digits):
    _, path, _ = exported
    enc = OnnxEncoder(path)
    table = benchmark_batches(enc.run_nchw, digits, (1, 16), images_per_size=32, repeats=2)
    assert table["batch_size"].tolist() == [1, 16]
    assert (table["ms_per_image"] > 0).all()
    np.testing.assert_allclose(
        table["images_per_s"], 1e3 * table["batch_size"] / table["ms_per_call_p50"]
    )


# --- bad input ---------------------------------------------------------------------------------
def test_export_bad_input(tmp_path):
    with pytest.raises(TypeError, match="module"):
        export_onnx("not a model", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="directory"):
        export_onnx(DigitCNN(1, 8, 4), tmp_path / "missing" / "m.onnx")
    with pytest.raises(ValueError, match="input_shape"):
        export_onnx(DigitCNN(1, 8, 4), tmp_path / "m.onnx", input_shape=(1, 0, 28, 28))


def test_onnx_encoder_bad_input(exported, tmp_path, digits):
    _, path, _ = exported
    with pytest.raises(ValueError, match="does not exist"):
        OnnxEncoder(tmp_path / "nope.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"this is not a protobuf")
    with pytest.raises(ValueError, match="not a loadable ONNX model"):
        OnnxEncoder(corrupt)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        OnnxEncoder(empty)
    enc = OnnxEncoder(path)
    with pytest.raises(ValueError, match="expects"):
        enc(np.zeros((2, 32, 32), dtype=np.float32))  # wrong image size
    with pytest.raises(ValueError, match="NaN"):
        enc(np.full((2, 784), np.nan, dtype=np.float32))
    with pytest.raises(TypeError):
        enc("images")
    with pytest.raises(ValueError, match="num_threads"):
        OnnxEncoder(path, num_threads=0)


def test_quantize_bad_input(exported, digits, tmp_path):
    _, path, _ = exported
    with pytest.raises(ValueError, match="mode"):
        quantize_onnx(path, tmp_path / "q.onnx", "int4")
    with pytest.raises(ValueError, match="calibration"):
        quantize_onnx(path, tmp_path / "q.onnx", "static")
    with pytest.raises(ValueError, match="only used"):
        quantize_onnx(path, tmp_path / "q.onnx", "dynamic", calibration=digits)
    with pytest.raises(ValueError, match="differ"):
        quantize_onnx(path, path, "dynamic")
    with pytest.raises(ValueError, match="does not exist"):
        quantize_onnx(tmp_path / "nope.onnx", tmp_path / "q.onnx")
    with pytest.raises(TypeError, match="op_types"):
        quantize_onnx(path, tmp_path / "q.onnx", op_types="MatMul")
    with pytest.raises(ValueError, match=r"pixels|range"):
        quantize_onnx(path, tmp_path / "q.onnx", "static", calibration=digits * 300)


def test_compare_and_benchmark_bad_input(exported, digits):
    with pytest.raises(ValueError, match="must match"):
        compare_outputs(np.ones((3, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        compare_outputs(np.ones((3, 2)), np.full((3, 2), np.nan))
    _, path, _ = exported
    enc = OnnxEncoder(path)
    with pytest.raises(TypeError, match="callable"):
        benchmark_batches(None, digits)
    with pytest.raises(ValueError, match="non-empty"):
        benchmark_batches(enc.run_nchw, digits, ())
    with pytest.raises(ValueError, match="larger than"):
        benchmark_batches(enc.run_nchw, digits[:4], (8,))
    with pytest.raises(ValueError, match="positive"):
        benchmark_batches(enc.run_nchw, digits, (0,))
    with pytest.raises(ValueError, match="warmup"):
        benchmark_batches(enc.run_nchw, digits, (1,), warmup=-1)


# --- ingest ------------------------------------------------------------------------------------
def test_upload_roundtrip_png_and_jpeg(tmp_path, digits):
    img = digits[0].reshape(28, 28)
    png = encode_image_bytes(img, "PNG")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert check_upload(png) == ("PNG", (28, 28))
    arr = load_image(spool_upload(png, tmp_path, "a.png"), mode="L")
    np.testing.assert_array_equal(arr, np.round(img * 255).astype(np.uint8))  # PNG is lossless
    jpg = encode_image_bytes(img, "JPEG", quality=75)
    assert check_upload(jpg)[0] == "JPEG"
    x = to_model_input(load_image(spool_upload(jpg, tmp_path, "a.jpg"), mode="L"))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0 < np.abs(x - img).max() < 0.5  # JPEG is lossy


def test_to_model_input_resizes_colour():
    rgb = np.zeros((100, 60, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    x = to_model_input(rgb, side=28)
    assert x.shape == (28, 28)
    np.testing.assert_allclose(x, 0.299, atol=0.01)  # ITU-R 601 luma of pure red


def _with_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR header declares another size (CRC fixed): a decompression-bomb stand-in."""
    import struct
    import zlib

    ihdr = b"IHDR" + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def test_ingest_bad_input(tmp_path):
    with pytest.raises(TypeError, match="bytes"):
        check_upload("not bytes")
    with pytest.raises(ValueError, match="empty"):
        check_upload(b"")
    with pytest.raises(ValueError, match="limit"):
        check_upload(b"x" * 11, max_bytes=10)
    with pytest.raises(ValueError, match="identify"):
        check_upload(b"hello, this is text")
    png = encode_image_bytes(np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"truncated|identify|pixel"):
        check_upload(png[:20])
    with pytest.raises(ValueError, match="bomb"):
        check_upload(png, max_pixels=1000)
    with pytest.raises(ValueError, match="bomb"):  # header declares 30000 x 30000 pixels
        check_upload(_with_size(png, 30_000, 30_000))
    with pytest.raises(ValueError, match="bomb"):  # 12000 x 12000: over our limit, not Pillow's
        check_upload(_with_size(png, 12_000, 12_000))
    with pytest.raises(ValueError, match="accepted formats"):
        check_upload(png, formats=("JPEG",))
    truncated = spool_upload(png[: len(png) // 2], tmp_path, "t.png")
    with pytest.raises(ValueError, match="corrupt"):
        load_image(truncated)
    with pytest.raises(ValueError, match="fmt"):
        encode_image_bytes(np.zeros((4, 4)), "GIF")
    with pytest.raises(ValueError, match="0, 1"):
        encode_image_bytes(np.full((4, 4), 2.0))
    with pytest.raises(ValueError, match="shape"):
        encode_image_bytes(np.zeros((4, 4, 2), dtype=np.uint8))
    with pytest.raises(ValueError, match="name"):
        spool_upload(b"x", tmp_path, "../escape")
    with pytest.raises(ValueError, match="directory"):
        spool_upload(b"x", tmp_path / "missing", "a")
    with pytest.raises(TypeError, match="uint8"):
        to_model_input(np.zeros((4, 4), dtype=np.float32))


def test_collapse_near_duplicates():
    V = np.array([[1.0, 0.0], [0.99, 0.01], [0.0, 1.0], [0.7, 0.7], [0.0, 1.0]])
    ids = np.array([10, 11, 12, 13, 14])
    kept, dropped = collapse_near_duplicates(ids, V, threshold=0.99)
    assert kept.tolist() == [10, 12, 13]
    assert dropped == {11: 10, 14: 12}
    kept_all, none = collapse_near_duplicates(ids, V, threshold=1.0)
    assert kept_all.tolist() == [10, 11, 12, 13] and none == {14: 12}  # exact copy only
    with pytest.raises(ValueError, match="rows"):
        collapse_near_duplicates(ids[:3], V)
    with pytest.raises(ValueError, match="threshold"):
        collapse_near_duplicates(ids, V, threshold=1.5)
    with pytest.raises(ValueError, match="1-D integer"):
        collapse_near_duplicates(ids.astype(float), V)


def test_guard_stages_names_the_failing_stage():
    from utils.serving import Pipeline

    def ok(state):
        return {**state, "x": 1}

    def boom(state):
        raise ValueError("bad pixels")

    pipe = Pipeline(guard_stages([("decode", ok), ("embed", boom)]))
    with pytest.raises(StageError, match="'embed' failed: ValueError: bad pixels") as info:
        pipe.run({})
    assert info.value.stage == "embed" and isinstance(info.value.error, ValueError)
    assert Pipeline(guard_stages([("a", ok)])).run({})[0] == {"x": 1}
    with pytest.raises(TypeError, match="pair"):
        guard_stages([("a", ok, 3)])
    with pytest.raises(TypeError, match="not callable"):
        guard_stages([("a", 3)])
    with pytest.raises(TypeError, match="sequence"):
        guard_stages("decode")
