"""The services geofm reads from: STAC endpoints and collections, hosts, paging and throttling."""

from __future__ import annotations

# The default endpoints (PLANETARY_COMPUTER_STAC, CMR_STAC_LPCLOUD) are the settings' defaults: geofm.settings.

STAC_COLLECTIONS: dict[str, dict[str, str]] = {
    # endpoint flavour -> product -> collection id
    "planetary-computer": {"L30": "hls2-l30", "S30": "hls2-s30"},
    "cmr": {"L30": "HLSL30_2.0", "S30": "HLSS30_2.0"},
}
#: First date each service holds HLS v2 for (collection extents; Planetary Computer's record starts 2020-01-01,
#: NASA's L30 2013-04-11 and S30 2015-11-28). Sources: ../shared/docs/hls-stac.md, the collections' `extent`.
HLS_COVERAGE_START: dict[str, dict[str, str]] = {
    "planetary-computer": {"L30": "2020-01-01", "S30": "2020-01-01"},
    "cmr": {"L30": "2013-04-11", "S30": "2015-11-28"},
}
#: Host names (exact, or a suffix when they start with ".") whose requests may carry the Earthdata token.
EARTHDATA_HOSTS: tuple[str, ...] = ("urs.earthdata.nasa.gov", ".earthdata.nasa.gov", ".earthdatacloud.nasa.gov")
#: Azure blob storage host suffix (Planetary Computer assets); hrefs there are signed with SAS tokens.
AZURE_BLOB_DOMAIN = ".blob.core.windows.net"
#: Largest STAC page asked for (Planetary Computer serves up to 1000; one page avoids its paging quirks).
STAC_PAGE_LIMIT = 1000
#: Longest total wait on a throttled service (429 Retry-After, 503 ServerBusy) before giving up, seconds.
THROTTLE_BUDGET_S: float = 60.0
#: Concurrent Fmask reads in the clear-sky pass over many scenes (blob storage throttles bursts).
FMASK_PASS_CONCURRENCY = 6

