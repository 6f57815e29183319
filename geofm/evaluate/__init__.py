"""Did the model get it right? Reference layers, agreement, and what changed.

``evaluate(task, result, reference="auto" | layer name | path, stack=...)`` compares a result with public
reference data read through STAC over the result's grid (JRC Global Surface Water / ESA WorldCover for water,
USDA Cropland Data Layer for crops) or a user's GeoTIFF, and returns an ``Evaluation``: metrics, layers
(agreement, newly flooded water, disagreement, per-patch error), a per-class or per-band table and notes on
where the model is out of its depth. ``write_evaluation`` writes the layers as COGs with provenance.
"""

from geofm.evaluate.evaluation import (EvalLayer, Evaluation, before_after, evaluate, evaluate_crops,
                                       evaluate_flood, evaluate_reconstruction, load_reference)
from geofm.evaluate.export import write_evaluation
from geofm.evaluate.provenance import Provenance, make_provenance, read_provenance, write_provenance
from geofm.evaluate.reference import ReferenceRead, read_reference, read_reference_file

__all__ = ["EvalLayer", "Evaluation", "Provenance", "ReferenceRead", "before_after", "evaluate", "evaluate_crops",
           "evaluate_flood", "evaluate_reconstruction", "load_reference", "make_provenance", "read_provenance",
           "read_reference", "read_reference_file", "write_evaluation", "write_provenance"]
