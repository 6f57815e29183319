"""Before Run: what the scenes found on the Explore page already say about a run (no pixels are read here).

``days`` are the Explore page's dates: (the day's scenes, clear share of the area) per date and sensor, as
``geofm.data.select.day_frames`` gives them. A run on dates that are all cloud over the area, or crops with
fewer than three dates, is announced before the user waits for it.
"""

from __future__ import annotations

from datetime import date

from geofm.config import get_task
from geofm.data.select import MIN_CLEAR_FRACTION, THIRD_NAMES, thirds


def _fmt(d: date) -> str:
    return d.isoformat()


def run_warnings(task: str, days: list, scene_ids: tuple[str, ...], start: date, end: date) -> list[str]:
    """Sentences to show before Run (empty: nothing to say)."""
    spec = get_task(task)
    want, most = spec.date_span()
    chosen = set(scene_ids)
    if chosen:
        picked = [(frame, clear) for frame, clear in days if chosen & {s.id for s in frame}]
        dates = sorted({frame[0].date for frame, _ in picked})
        notes = []
        if not want <= len(dates) <= most:
            need = f"{want}" if want == most else f"{want} to {most}"
            notes.append(f"{spec.title} needs {need} date{'s' if most > 1 else ''}; you selected {len(dates)}. "
                         "Select the dates on the Explore page (or clear the selection to let geofm choose).")
        for frame, clear in picked:
            if clear < 0.01:
                notes.append(f"{_fmt(frame[0].date)} is all cloud (or no data) over your area: the model would "
                             "see nothing there. Pick a clearer date on the Explore page.")
        return notes
    if not days:
        return []
    if spec.scene_choice == "spread":
        notes = []
        for name, (a, b) in zip(THIRD_NAMES, thirds(start, end)):
            usable = [clear for frame, clear in days if a <= frame[0].date <= b and clear >= MIN_CLEAR_FRACTION]
            if not usable:
                notes.append(f"{spec.title} needs three dates, one in each third of your dates, with at least "
                             f"{MIN_CLEAR_FRACTION:.0%} of the area clear; the {name} third ({_fmt(a)} to {_fmt(b)}) "
                             "has none. Widen the dates (the growing season, e.g. March to September) or allow "
                             "more cloud on the Explore page.")
        return notes
    best = max(clear for _, clear in days)
    if best < MIN_CLEAR_FRACTION:
        return [f"The clearest date found is only {best:.0%} clear over your area (at least "
                f"{MIN_CLEAR_FRACTION:.0%} is needed). Widen the dates or allow more cloud on the Explore page."]
    return []
