"""Which worker runs which chunk: contiguous runs of neighbouring chunks, cut where the fewest blocks are read twice.

Neighbouring chunks share the source blocks under their halos; on one worker the second chunk takes them from
that worker's block cache, across two workers both fetch them. A cut between two workers' runs therefore costs
the blocks that the halo band on either side of it touches, and that depends on where the files' 256-px block
lattice falls against the chunk grid: a cut whose halo band fits inside one block row costs one row of blocks,
one that straddles a block edge two. Both orders (row-major and column-major) are cut into one contiguous run
per worker and the one whose runs read fewer distinct blocks in total wins (rows on a tie, and whenever the
catalog gives no pixel grid, as CMR does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from geofm.config import HLS_BLOCK_PX
from geofm.data.grid import Grid
from geofm.data.scene import Scene
from geofm.region.chunks import Span

Block = tuple[int, int, int]  # (tile index, block row, block column)


@dataclass(frozen=True)
class TileLattice:
    """A source file's block lattice, placed on a zone grid: the file's pixel (row, col) of zone pixel (0, 0)."""

    row_off: int
    col_off: int
    height: int
    width: int
    block: int = HLS_BLOCK_PX

    def blocks(self, span: Span, index: int) -> set[Block]:
        """The blocks of this file that the zone-grid ``span`` touches."""
        r0, r1 = max(0, span.row0 + self.row_off), min(self.height, span.row1 + self.row_off)
        c0, c1 = max(0, span.col0 + self.col_off), min(self.width, span.col1 + self.col_off)
        if r0 >= r1 or c0 >= c1:
            return set()
        b = self.block
        return {(index, br, bc) for br in range(r0 // b, (r1 - 1) // b + 1) for bc in range(c0 // b, (c1 - 1) // b + 1)}


def tile_lattices(scenes: Sequence[Scene], zone: Grid, epsg: int) -> list[TileLattice]:
    """The distinct file grids among ``scenes`` that lie on ``zone``'s pixel lattice (same zone, same pixel size,
    whole-pixel offsets); files in another zone or without a published grid are left out."""
    a, _, c, _, e, f = tuple(zone.transform)[:6]
    found: dict[tuple[int, int, int, int], TileLattice] = {}
    for scene in scenes:
        if scene.transform is None or scene.shape is None or scene.epsg != epsg:
            continue
        ta, tb, tc, td, te, tf = scene.transform
        if tb or td or abs(ta - a) > 1e-6 or abs(te - e) > 1e-6:
            continue
        col, row = (c - tc) / ta, (f - tf) / te  # file pixel of the zone grid's corner
        if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
            continue
        key = (round(row), round(col), scene.shape[0], scene.shape[1])
        found.setdefault(key, TileLattice(*key))
    return list(found.values())


def chunk_blocks(spans: Sequence[Span], lattices: Sequence[TileLattice]) -> list[set[Block]]:
    """Each span's blocks over all files."""
    return [set().union(*(lattice.blocks(span, t) for t, lattice in enumerate(lattices))) for span in spans]


def runs_cost(blocks: Sequence[set[Block]], order: Sequence[int], workers: int) -> int:
    """Blocks fetched when ``order`` (indices into ``blocks``, each chunk's blocks) is cut into ``workers``
    contiguous runs, each worker fetching a block once."""
    seen: list[set[Block]] = [set() for _ in range(workers)]
    for k, i in enumerate(order):
        seen[run_of(k, len(order), workers)] |= blocks[i]
    return sum(len(s) for s in seen)


def chunk_order(cores: Sequence[Span], reads: Sequence[Span], workers: int,
                lattices: Sequence[TileLattice]) -> list[int]:
    """The order to hand out chunks (indices into ``cores``) in, cut later into one contiguous run per worker:
    row-major, or column-major when that reads fewer blocks (``reads`` are the chunks' read spans)."""
    rows = sorted(range(len(cores)), key=lambda i: (cores[i].row0, cores[i].col0))
    if workers < 2 or not lattices or len(cores) < 2:
        return rows
    cols = sorted(range(len(cores)), key=lambda i: (cores[i].col0, cores[i].row0))
    blocks = chunk_blocks(reads, lattices)
    return cols if runs_cost(blocks, cols, workers) < runs_cost(blocks, rows, workers) else rows


def run_of(k: int, n: int, workers: int) -> int:
    """The worker (0 … ``workers`` - 1) of the ``k``-th of ``n`` chunks in hand-out order: contiguous runs."""
    return k * workers // n


def home_runs(n: int, workers: Sequence[str]) -> list[list[str] | None]:
    """Each of ``n`` chunks' preferred worker (in hand-out order); None for all when no worker is known."""
    if not workers or n == 0:
        return [None] * n
    return [[workers[run_of(k, n, len(workers))]] for k in range(n)]
