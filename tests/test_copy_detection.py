"""Tests for the bundled sample photos (utils.data.photos) and copy-detection edits,
descriptors and encoder (utils.image_edits)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from utils.data.photos import (
    SKIMAGE_PHOTOS,
    SKLEARN_PHOTOS,
    load_sample_photos,
    photo_tiles,
    resize_short_side,
)
from utils.image_edits import (
    EDIT_TYPES,
    CopyCNN,
    apply_edit,
    as_chw,
    colour_edit,
    colour_histogram,
    combined_edit,
    crop_edit,
    jpeg_available,
    jpeg_edit,
    noise_edit,
    random_crops,
    resize_batch,
    rotate_edit,
    tiny_image,
    train_copy_encoder,
)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return load_sample_photos(["coffee"])["coffee"][:96, :128]


# ------------------------------------------------------------------------------------ photos
def test_all_photos_float_rgb_and_cat_deduplicated():
    photos = load_sample_photos()
    assert len(photos) == len(SKIMAGE_PHOTOS) + len(SKLEARN_PHOTOS) - 1 == 20
    assert "cat" not in photos and "chelsea" in photos
    for name, img in photos.items():
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3, name
        assert 0.0 <= img.min() and img.max() <= 1.0, name
    assert photos["china"].shape == photos["flower"].shape == (427, 640, 3)


def test_duplicates_kept_on_request_and_identical():
    photos = load_sample_photos(["chelsea", "cat"], drop_duplicates=False)
    assert list(photos) == ["chelsea", "cat"]
    np.testing.assert_array_equal(photos["chelsea"], photos["cat"])
    assert list(load_sample_photos(["chelsea", "cat"])) == ["chelsea"]


def test_grey_and_boolean_photos_become_rgb():
    photos = load_sample_photos(["camera", "horse"])
    cam = photos["camera"]
    assert cam.shape == (512, 512, 3)
    np.testing.assert_array_equal(cam[..., 0], cam[..., 2])
    from skimage import data

    np.testing.assert_allclose(cam[..., 1], data.camera() / 255.0, atol=1e-6)
    assert set(np.unique(photos["horse"])) <= {0.0, 1.0}


def test_photo_names_validated():
    with pytest.raises(ValueError, match="unknown photo"):
        load_sample_photos(["lena"])
    with pytest.raises(ValueError, match="empty"):
        load_sample_photos([])
    with pytest.raises(TypeError, match="list or tuple"):
        load_sample_photos("camera")
    with pytest.raises(ValueError, match="repeated"):
        load_sample_photos(["camera", "camera"])


def test_missing_scikit_image_says_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage", None)  # makes `import skimage` fail
    with pytest.raises(ImportError, match="pip install"):
        load_sample_photos(["camera"])
    assert list(load_sample_photos(["china"])) == ["china"]  # sklearn's photos still work


def test_resize_short_side_and_tiles():
    photos = load_sample_photos(["page", "coffee"])
    small = resize_short_side(photos["coffee"], 100)  # 400 x 600 -> 100 x 150
    assert small.shape == (100, 150, 3) and small.dtype == np.float32
    assert abs(float(small.mean()) - float(photos["coffee"].mean())) < 0.01
    tiles, names, dropped = photo_tiles(photos, tile=32, short_side=128, min_std=0.03)
    n_total = (128 // 32) * (resize_short_side(photos["page"], 128).shape[1] // 32) + 4 * 6
    assert tiles.shape[1:] == (32, 32, 3) and len(tiles) == len(names) == n_total - dropped
    assert dropped > 0 and (tiles.reshape(len(tiles), -1).std(axis=1, ddof=1) >= 0.03).all()
    assert set(names) == {"page", "coffee"}
    top_left = resize_short_side(photos["coffee"], 128)[:32, :32]
    np.testing.assert_array_equal(tiles[names == "coffee"][0], top_left)
    _, _, none_dropped = photo_tiles(photos, tile=32, short_side=128, min_std=0.0)
    assert none_dropped == 0
    with pytest.raises(ValueError, match="exceed"):
        photo_tiles(photos, tile=256, short_side=128)
    with pytest.raises(ValueError, match="non-empty"):
        photo_tiles({})
    with pytest.raises(ValueError, match="every tile"):
        photo_tiles(photos, tile=32, short_side=64, min_std=10.0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        resize_short_side(photos["page"][..., 0], 64)


# ------------------------------------------------------------------------------------ edits
@pytest.mark.parametrize("kind", EDIT_TYPES)
def test_every_edit_valid_deterministic_and_identity_at_zero(photo, kind):
    img = as_chw(photo)
    out = apply_edit(photo, kind, 0.7, rng=3)
    assert out.dtype == torch.float32 and out.ndim == 3 and out.shape[0] == 3
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    torch.testing.assert_close(out, apply_edit(photo, kind, 0.7, rng=3))
    torch.testing.assert_close(apply_edit(photo, kind, 0.0, rng=3), img)
    if kind != "jpeg":  # JPEG has no randomness
        assert not torch.equal(out, apply_edit(photo, kind, 0.7, rng=4))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    torch.testing.assert_close(apply_edit(photo, kind, 0.4, g1), apply_edit(photo, kind, 0.4, g2))


def test_apply_edit_dispatches(photo):
    fns = [crop_edit, rotate_edit, colour_edit, noise_edit, jpeg_edit, combined_edit]
    for kind, fn in zip(EDIT_TYPES, fns, strict=True):
        torch.testing.assert_close(apply_edit(photo, kind, 0.5, 1), fn(photo, 0.5, 1))


@pytest.mark.parametrize("s", [0.25, 0.5, 1.0])
def test_crop_keeps_the_stated_area(s):
    img = torch.rand(3, 200, 300)
    areas = [np.prod(crop_edit(img, s, seed).shape[1:]) / (200 * 300) for seed in range(20)]
    # clipping to the image may shrink a window; rounding moves it by a pixel or so
    assert all(a <= 1 - 0.7 * s + 0.02 for a in areas)
    assert np.median(areas) == pytest.approx(1 - 0.7 * s, abs=0.03)


def test_crop_is_a_window_of_the_original():
    img = torch.rand(3, 40, 50)
    out = crop_edit(img, 0.6, rng=0)
    h, w = out.shape[1:]
    found = any(
        torch.equal(img[:, i : i + h, j : j + w], out)
        for i in range(40 - h + 1)
        for j in range(50 - w + 1)
    )
    assert found


def test_rotation_blackens_corners_and_keeps_size():
    img = torch.full((3, 64, 64), 0.8)
    out = rotate_edit(img, 1.0, rng=0)
    assert out.shape == img.shape
    assert float(out[:, 0, 0].max()) == 0.0 and float(out[:, 32, 32].min()) > 0.79


def test_noise_standard_deviation():
    img = torch.full((3, 128, 128), 0.5)
    for s in (0.25, 1.0):
        diff = noise_edit(img, s, rng=1) - img
        # clipping at 0 and 1 is 2.4 sigma away at s = 1: a negligible effect on the std
        assert float(diff.std()) == pytest.approx(0.2 * s, rel=0.05)
        assert abs(float(diff.mean())) < 0.01


def test_colour_edit_moves_the_colour_histogram(photo):
    img = as_chw(photo)
    for s, low, high in ((0.05, 0.85, 1.0), (1.0, 0.0, 0.6)):
        out = colour_edit(img, s, rng=0)
        assert out.shape == img.shape
        h = colour_histogram([img, out])
        assert low <= float(h[0] @ h[1]) <= high, (s, float(h[0] @ h[1]))


@pytest.mark.skipif(not jpeg_available(), reason="torchvision without libjpeg")
@pytest.mark.filterwarnings("ignore:.*TorchCodec.*:DeprecationWarning")
def test_jpeg_error_grows_with_strength(photo):
    img = as_chw(photo)
    errs = [float((jpeg_edit(img, s) - img).abs().mean()) for s in (0.1, 0.5, 1.0)]
    assert 0 < errs[0] < errs[1] < errs[2]
    from torchvision.io import decode_jpeg, encode_jpeg

    u8 = (img * 255).round().to(torch.uint8)
    ref = decode_jpeg(encode_jpeg(u8, quality=55)).float() / 255
    torch.testing.assert_close(jpeg_edit(img, 0.5), ref)  # quality 100 - 90 * 0.5 = 55


def test_edit_inputs_validated(photo):
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="strength"):
            crop_edit(photo, bad)
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="strength"):
            rotate_edit(photo, bad)
    with pytest.raises(TypeError, match="rng"):
        noise_edit(photo, 0.5, rng=None)
    with pytest.raises(TypeError, match="rng"):
        noise_edit(photo, 0.5, rng=-1)
    with pytest.raises(ValueError, match="unknown kind"):
        apply_edit(photo, "blur", 0.5)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        crop_edit(photo[..., 0], 0.5)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        crop_edit(torch.rand(1, 32, 32), 0.5)
    with pytest.raises(ValueError, match="at least 8x8"):
        crop_edit(torch.rand(3, 4, 32), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        crop_edit(photo * 255, 0.5)
    with pytest.raises(TypeError, match="float"):
        crop_edit(torch.ones(3, 16, 16, dtype=torch.int32), 0.5)
    with pytest.raises(TypeError, match="NumPy"):
        crop_edit([[0.5]], 0.5)
    u8 = (photo * 255).astype(np.uint8)
    torch.testing.assert_close(as_chw(u8), torch.from_numpy(u8).permute(2, 0, 1).float() / 255)


# ------------------------------------------------------------------------------- descriptors
def test_resize_batch_layouts():
    imgs = [torch.rand(3, 20, 30), np.random.default_rng(0).random((40, 17, 3))]
    out = resize_batch(imgs, 16)
    assert out.shape == (2, 3, 16, 16) and out.dtype == torch.float32
    nhwc = np.random.default_rng(1).random((3, 24, 24, 3)).astype(np.float32)
    torch.testing.assert_close(
        resize_batch(nhwc, 8), resize_batch(torch.from_numpy(nhwc).permute(0, 3, 1, 2), 8)
    )
    with pytest.raises(ValueError, match="empty"):
        resize_batch([], 8)
    with pytest.raises(TypeError, match="images"):
        resize_batch("img", 8)
    with pytest.raises(ValueError, match=r"images\[1\]"):
        resize_batch([torch.rand(3, 16, 16), torch.rand(3, 4, 4)], 8)


def test_tiny_image_is_pearson_correlation(photo):
    a, b = as_chw(photo), rotate_edit(photo, 0.3, rng=0)
    va, vb = tiny_image([a, b], size=16)
    assert va.shape == (768,) and np.linalg.norm(va) == pytest.approx(1.0, abs=1e-5)
    ta, tb = (resize_batch([x], 16).numpy().ravel() for x in (a, b))
    assert float(va @ vb) == pytest.approx(np.corrcoef(ta, tb)[0, 1], abs=1e-5)
    # invariant to a global gain and offset (no clipping here)
    affine = (0.5 * a + 0.2).clamp(0, 1)
    np.testing.assert_allclose(tiny_image([affine])[0], va, atol=1e-4)


def test_colour_histogram_matches_numpy_and_ignores_geometry(photo):
    img = resize_batch([photo], 64)[0]
    h = colour_histogram([img], bins=4, size=64)[0]
    pix = img.permute(1, 2, 0).reshape(-1, 3).numpy()
    ref, _ = np.histogramdd(pix, bins=4, range=[(0, 1)] * 3)
    ref = np.sqrt(ref.ravel() / ref.sum())
    np.testing.assert_allclose(h, ref / np.linalg.norm(ref), atol=1e-5)
    np.testing.assert_allclose(colour_histogram([torch.rot90(img, 1, (1, 2))], 4)[0], h, atol=1e-6)
    with pytest.raises(TypeError, match="bins"):
        colour_histogram([img], bins=2.5)


# ---------------------------------------------------------------------------- learned encoder
def test_copy_cnn_shapes_norm_and_errors():
    torch.manual_seed(0)
    m = CopyCNN(dim=16, width=4, input_size=16).eval()
    z = m(torch.rand(5, 3, 40, 24))  # resized to 16x16 inside
    assert z.shape == (5, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))
    with pytest.raises(ValueError, match="batch, 3"):
        m(torch.rand(5, 1, 16, 16))
    with pytest.raises(ValueError, match="multiple of 8"):
        CopyCNN(input_size=20)


def test_random_crops(photo):
    c = random_crops([photo, photo[:50, :60]], 7, 32, rng=0)
    assert c.shape == (7, 3, 32, 32)
    torch.testing.assert_close(c, random_crops([photo, photo[:50, :60]], 7, 32, rng=0))
    with pytest.raises(ValueError, match="smaller than the crop"):
        random_crops([photo[:20, :20]], 3, 32)
    with pytest.raises(ValueError, match="empty"):
        random_crops([], 3, 32)


def test_train_copy_encoder_learns_and_is_deterministic():
    photos = load_sample_photos(["astronaut", "brick", "coffee", "china"])
    crops = random_crops(list(photos.values()), 128, 32, rng=0)
    threads = torch.get_num_threads()
    kw = dict(dim=16, width=4, input_size=16, epochs=6, batch_size=64)
    m1 = train_copy_encoder(crops, seed=1, **kw)
    m2 = train_copy_encoder(crops, seed=1, **kw)
    assert torch.get_num_threads() == threads and not m1.training
    for p1, p2 in zip(m1.parameters(), m2.parameters(), strict=True):
        torch.testing.assert_close(p1, p2)

    losses = m1.epoch_losses
    # chance level for a batch of 64 pairs is log 64 = 4.16; the loss must fall well below it
    assert len(losses) == 6 and losses[0] < np.log(64) + 0.1, losses
    assert losses[-1] < 0.6 * losses[0], losses
    with pytest.raises(ValueError, match="crops"):
        train_copy_encoder(crops[:, :1])
    with pytest.raises(ValueError, match="unknown edit kind"):
        train_copy_encoder(crops, edit_kinds=("blur",))
    with pytest.raises(ValueError, match="empty"):
        train_copy_encoder(crops, edit_kinds=())
    with pytest.raises(ValueError, match="batch_size"):
        train_copy_encoder(crops, batch_size=1)
