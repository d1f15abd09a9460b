"""The eligibility check ("政策找人"): which measures of the corpus apply to one enterprise, and why.

Modules, in the order data flows through them:

- ``vocabulary``: ``data/eligibility.toml`` as typed tables, and the word scanning;
- ``fields`` / ``profile`` / ``profile_text``: a profile's fields and their readers, the :class:`Profile`
  model, and the reading of a free-text description;
- ``grants``: where a sentence grants something, and to whom; ``spans``: which sentences of a chunk are
  measures; ``conditions``: the conditions one sentence states; ``extract``: a measure's conditions and
  benefit; ``measures``: the measures of an index build;
- ``checks``: one condition against one profile; ``places``: the firm's place and the documents that count;
  ``results``: the public results; ``matching``: :func:`match`.
"""

from assistant.decisions.eligibility.conditions import Condition, read_conditions
from assistant.decisions.eligibility.fields import ProfileError, canonical_name, field_label
from assistant.decisions.eligibility.matching import match
from assistant.decisions.eligibility.measures import Measure, extract_measures, measures_for
from assistant.decisions.eligibility.profile import Profile
from assistant.decisions.eligibility.profile_text import check_description
from assistant.decisions.eligibility.results import (
    EXAMPLE,
    FITS,
    LOCAL,
    MAY_FIT,
    NO_FIT,
    PARENT,
    ConditionCheck,
    MatchResult,
    MeasureMatch,
)
from assistant.decisions.eligibility.spans import is_measure
from assistant.decisions.eligibility.vocabulary import SIZE_CLASSES, vocabulary

__all__ = [
    "EXAMPLE",
    "FITS",
    "LOCAL",
    "MAY_FIT",
    "NO_FIT",
    "PARENT",
    "SIZE_CLASSES",
    "Condition",
    "ConditionCheck",
    "MatchResult",
    "Measure",
    "MeasureMatch",
    "Profile",
    "ProfileError",
    "canonical_name",
    "check_description",
    "extract_measures",
    "field_label",
    "is_measure",
    "match",
    "measures_for",
    "read_conditions",
    "vocabulary",
]
