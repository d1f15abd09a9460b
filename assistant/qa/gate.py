"""The gate model-written text passes as it streams: only whole sentences their cited passage supports.

A sentence is shown once it is complete and ``citing.unsupported_reason`` finds nothing against it (its
numbers, links, contact details and instructions verbatim in the passage it cites, most of its wording),
renumbered by first use; nothing shown is ever taken back.
"""

from __future__ import annotations

import logging
import re

from llama_index.core.schema import NodeWithScore

from assistant.core.schema import Citation
from assistant.qa.citing import (
    CLOSERS,
    Numbering,
    cited_markers,
    passage_check_text,
    sentence_pieces,
    unsupported_reason,
)

logger = logging.getLogger(__name__)

_HOLD = "[［【" + CLOSERS  # a piece starting with these may still belong to the sentence before it
_MAY_END = re.compile(r"[。！？；!?\n]|\.(?:\s|$)")  # text without these cannot end a sentence


class SentenceGate:
    """Model output in, verified sentences out, as it streams.

    ``feed`` buffers deltas and returns the text of each newly completed sentence that passes
    ``unsupported_reason`` against the passages it cites, renumbered; ``close`` flushes the last one.
    ``text`` is always the concatenation of everything returned, so what was shown is the answer.
    """

    def __init__(self, passages: list[NodeWithScore], min_wording: float) -> None:
        self.passages = passages
        self.min_wording = min_wording
        self.removed: list[str] = []
        self.text = ""
        self._numbering = Numbering(passages)
        self._buffer = ""
        self._clause = ""  # "A；" without a marker of its own: checked with the clause that cites for it
        self._gap = ""  # whitespace to put before the next shown sentence
        self._may_end = False  # the buffer holds an end mark: splitting it again may complete a sentence

    @property
    def citations(self) -> list[Citation]:
        return self._numbering.citations

    @property
    def cited(self) -> list[NodeWithScore]:
        return self._numbering.cited

    def feed(self, delta: str) -> str:
        """Text to show now: the supported sentences ``delta`` completed ("" if none)."""
        start = max(0, len(self._buffer) - 1)
        self._buffer += delta
        if not self._may_end and not _MAY_END.search(self._buffer, start):
            return ""  # still inside one sentence: no rescan, so a long sentence costs linear time
        pieces = sentence_pieces(self._buffer)
        # every piece but the last is complete, unless the last may still attach to it ("。[" + "1]")
        done = len(pieces) - 1 if pieces[-1][:1] not in _HOLD else len(pieces) - 2
        done = max(done, 0)
        self._buffer = "".join(pieces[done:])
        self._may_end = bool(_MAY_END.search(self._buffer))
        return "".join(self._take(p) for p in pieces[:done])

    def close(self) -> str:
        """Text to show for the rest of the buffer, once the model has finished."""
        pieces, self._buffer = sentence_pieces(self._buffer), ""
        shown = "".join(self._take(p) for p in pieces)
        clause, self._clause = self._clause, ""
        return shown + (self._take(clause, last=True) if clause else "")

    def _take(self, piece: str, last: bool = False) -> str:
        piece, self._clause = self._clause + piece, ""
        body = piece.strip()
        if not re.search(r"\w", body):
            return ""  # a rule, a bullet or a blank line: nothing to check, nothing to show
        if not last and body[-1] in "；;" and not cited_markers(body):
            self._clause = piece  # "…奖励；升规纳统当年给予50%[1]。": one sentence, cited at its end
            return ""
        sources = [
            passage_check_text(self.passages[k - 1]) for k in cited_markers(body) if 1 <= k <= len(self.passages)
        ]
        reason = unsupported_reason(body, sources, self.min_wording)
        if reason:
            logger.info("dropped an unsupported sentence (%s): %r", reason, body[:200])
            self.removed.append(body)
            if piece.endswith("\n") and self.text:
                self._gap = "\n"
            return ""
        shown = (self._gap if self.text else "") + self._numbering.apply(body)
        self._gap = piece[len(piece.rstrip()) :]
        self.text += shown
        return shown
