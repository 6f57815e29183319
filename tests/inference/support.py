"""What the inference tests share: a tiny segmenter configuration (random weights, fast on CPU)."""

from geofm.config import SegmenterConfig, ViTConfig

TINY_SEG = SegmenterConfig(encoder=ViTConfig(num_frames=1, embed_dim=32, depth=1, num_heads=2),
                           num_classes=2, neck_channels=32, head_channels=16)
