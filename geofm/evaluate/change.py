"""Before / after for floods: the same area on a dry date (given, or the clearest scene in a window before the
event), run through the same model, and the water gained and lost between the two dates. The run on the dry
date itself is ``geofm.pipeline.dry_date_change``."""

from __future__ import annotations

from datetime import date, timedelta

from geofm.config import EVALUATION
from geofm.errors import InputError


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
