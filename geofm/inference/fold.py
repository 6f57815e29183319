"""Old home of the segmenters' fold, kept so its imports keep working: see ``geofm.models.fold``."""

from __future__ import annotations

from geofm.models.fold import (PHASES, FoldedUpsampleHead, MergedUpsample, fold_kernels, fold_segmenter, is_folded,
                               reference_upsample_head)

__all__ = ["PHASES", "FoldedUpsampleHead", "MergedUpsample", "fold_kernels", "fold_segmenter", "is_folded",
           "reference_upsample_head"]
