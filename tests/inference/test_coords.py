"""EO-2.0 "TL" models get each date's (year, day of year) and the area's (lon, lat) in reconstruction."""

import dataclasses
from datetime import datetime

import numpy as np
import pytest
import torch
from affine import Affine
from rasterio.crs import CRS

from geofm.config import ViTConfig, get_model_spec
from geofm.inference.reconstruct import reconstruct_stack, tl_coordinates
from geofm.models import create_model
from geofm.stack import HLSStack
from tests.geotiff_helpers import hls_like

CPU = torch.device("cpu")
TINY_TL = ViTConfig(num_frames=2, embed_dim=32, depth=1, num_heads=2, decoder_embed_dim=32, decoder_depth=1,
                    decoder_num_heads=2, coords_encoding=True, coords_scale_learn=True)
# 240 x 200 px at 30 m centred on about 41.29 N, 95.93 W (UTM 15N)
TRANSFORM = Affine(30, 0, 253_000, 0, -30, 4_577_000)


def _stack(times) -> HLSStack:
    data = hls_like(2, 200, 240, seed=3)
    return HLSStack(data, np.ones((2, 200, 240), bool), CRS.from_epsg(32615), TRANSFORM, times=times)


def test_coordinates_are_year_doy_per_date_and_lon_lat_of_the_centre():
    spec = dataclasses.replace(get_model_spec("prithvi-eo-2.0-300m-tl"), arch=TINY_TL, num_frames=2)
    temporal, location = tl_coordinates(_stack([datetime(2022, 3, 22), datetime(2022, 4, 7)]), spec)
    assert temporal.tolist() == [[[2022.0, 81.0], [2022.0, 97.0]]]
    lon, lat = location[0].tolist()
    assert lon == pytest.approx(-95.93, abs=0.05) and lat == pytest.approx(41.29, abs=0.05)
    # unknown dates: time left out, location kept; models without the encoders get nothing
    assert tl_coordinates(_stack([]), spec)[0] is None
    assert tl_coordinates(_stack([]), spec)[1] is not None
    assert tl_coordinates(_stack([]), get_model_spec("reconstruct")) == (None, None)


def test_tl_reconstruction_uses_the_coordinates():
    spec = dataclasses.replace(get_model_spec("prithvi-eo-2.0-300m-tl"), arch=TINY_TL, num_frames=2)
    torch.manual_seed(0)
    mae = create_model(spec, arch=TINY_TL)
    with torch.no_grad():  # a visible weight on the encoders (they start at 0.1)
        for name, p in mae.named_parameters():
            if name.endswith("scale"):
                p.fill_(1.0)
    dated = reconstruct_stack(mae, spec, _stack([datetime(2022, 3, 22), datetime(2022, 4, 7)]), device=CPU,
                              mask_ratio=0.5, seed=1)
    later = reconstruct_stack(mae, spec, _stack([datetime(2022, 8, 22), datetime(2022, 9, 7)]), device=CPU,
                              mask_ratio=0.5, seed=1)
    undated = reconstruct_stack(mae, spec, _stack([]), device=CPU, mask_ratio=0.5, seed=1)
    assert np.array_equal(dated.mask, later.mask)  # same seed, same hidden patches
    hidden = dated.mask[:, None].repeat(6, axis=1)
    assert not np.allclose(dated.reconstructed[hidden], later.reconstructed[hidden])
    assert not np.allclose(dated.reconstructed[hidden], undated.reconstructed[hidden])
    visible = ~hidden
    assert np.array_equal(dated.reconstructed[visible], later.reconstructed[visible])
