"""Old home of the oneDNN linears, kept so its imports keep working: see ``geofm.models.onednn``."""

from __future__ import annotations

from geofm.models.onednn import (OneDNNLinear, linear, onednn_linear_available, plain_linears,
                                 use_onednn_linears)

__all__ = ["OneDNNLinear", "linear", "onednn_linear_available", "plain_linears", "use_onednn_linears"]
