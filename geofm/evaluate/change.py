"""Before / after for floods: the same area on a dry date (given, or the clearest scene in a window before the
event), run through the same model, and the water gained and lost between the two dates."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from geofm.config import EVALUATION
from geofm.data.aoi import AOI
from geofm.errors import InputError
from geofm.evaluate.evaluation import Evaluation, before_after
from geofm.stack import HLSStack, SegmentationResult


def dry_window(event: date, dry_date: date | str | None = None) -> tuple[date, date]:
    """The dates searched for the dry scene: the given day, or EVALUATION.dry_window_days up to
    EVALUATION.dry_gap_days before the event."""
    if dry_date not in (None, "", "auto"):
        try:
            d = dry_date if isinstance(dry_date, date) else date.fromisoformat(str(dry_date))
        except ValueError:
            raise InputError(f"The dry date {dry_date!r} is not a date like 2022-06-01.") from None
        if d >= event:
            raise InputError(f"The dry date {d} must be before the event ({event}).")
        return d, d
    return event - timedelta(days=EVALUATION.dry_window_days), event - timedelta(days=EVALUATION.dry_gap_days)


def dry_date_change(event_result: SegmentationResult, event_stack: HLSStack, aoi: AOI, *, task: str = "flood",
                    dry_date: date | str | None = None, stac_url: str | None = None,
                    max_cloud: float = 30.0, **run_kw: Any) -> tuple[Evaluation, HLSStack]:
    """Read the dry scene over ``aoi`` (same grid as the event), run the flood model on it and compare:
    water gained / lost layer and km². Returns the comparison and the dry stack."""
    from geofm import pipeline
    from geofm.data.task import load_task_stack

    when = event_stack.times[-1] if event_stack.times and event_stack.times[-1] else None
    if when is None:
        raise InputError("The event's date is unknown, so no dry date before it can be chosen.")
    start, end = dry_window(when.date(), dry_date)
    stack, _ = load_task_stack(task, aoi, start, end, max_cloud=max_cloud, stac_url=stac_url)
    if stack.shape != event_stack.shape:
        raise InputError("The dry-date scene was read on a different grid than the event.")
    before = pipeline.run_segmentation(task, stack, **run_kw)
    ev = before_after(before, event_result)
    dry = stack.times[-1]
    ev.reference = f"dry date {dry.date() if dry else start}" + (f" (chosen: the clearest scene from {start} to {end})"
                                                                  if start != end else "")
    ev.metrics["dry_date"] = str(dry.date()) if dry else ""
    return ev, stack
