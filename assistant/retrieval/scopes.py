"""Where a question may be answered from: boolean masks over the passages of one build, per place it names.

``PlaceIndex`` holds, once per build, each passage's document and city as integer codes and each place's
documents, so a question's masks are a few array lookups over the passages rather than set building over
every document and string comparisons over every passage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence

import numpy as np

from assistant.core.text import to_simplified
from assistant.retrieval.gazetteer import NATIONAL, UNKNOWN, Gazetteer

Scope = tuple[np.ndarray, np.ndarray]  # (passages searched, passages of the very place named)


class PlaceIndex:
    """Per build: passage -> document and city codes; place -> the documents of its jurisdiction paths."""

    def __init__(
        self,
        jurisdictions: Sequence[tuple[str, str]],
        passage_docs: Sequence[str],
        passage_cities: Sequence[str],
    ) -> None:
        """``jurisdictions``: (doc_id, jurisdiction path) per document; ``passage_*``: one entry per passage."""
        self.doc_ids: list[str] = []
        self.code: dict[str, int] = {}
        for doc_id in [d for d, _ in jurisdictions] + list(passage_docs):
            if doc_id not in self.code:
                self.code[doc_id] = len(self.doc_ids)
                self.doc_ids.append(doc_id)
        self.passage_doc = np.array([self.code[d] for d in passage_docs], dtype=np.int64)
        # document codes in the order of their ids
        self._by_name = np.array(
            sorted(range(len(self.doc_ids)), key=self.doc_ids.__getitem__), dtype=np.int64
        )
        simple = {c: to_simplified(c) for c in {*passage_cities, *(path for _, path in jurisdictions)}}
        cities = [simple[c] for c in passage_cities]
        self.city_code = {c: i for i, c in enumerate(dict.fromkeys(["", *cities]))}
        self.passage_city = np.array([self.city_code[c] for c in cities], dtype=np.int64)
        self.has_city = self.passage_city != self.city_code[""]
        self.containing: dict[str, set[int]] = defaultdict(set)  # place -> documents whose path holds it
        self.ending: dict[str, set[int]] = defaultdict(set)  # place -> documents whose path ends with it
        national: set[int] = set()  # documents that may apply anywhere: national, or of no known place
        juris = {doc_id: [p for p in simple[path].split("/") if p] for doc_id, path in jurisdictions}
        for doc_id, parts in juris.items():
            code = self.code[doc_id]
            for part in parts:
                self.containing[part].add(code)
            if parts:
                self.ending[parts[-1]].add(code)
            if not parts or parts in ([NATIONAL], [UNKNOWN]):
                national.add(code)
        self.national = self.doc_table(national)

    def doc_table(self, codes: Iterable[int]) -> np.ndarray:
        """A boolean per document code."""
        table = np.zeros(len(self.doc_ids), dtype=bool)
        table[list(codes)] = True
        return table

    def passages_of(self, doc_ids: Collection[str] | None) -> np.ndarray:
        """Mask of the passages of these documents (None = all)."""
        if doc_ids is None:
            return np.ones(len(self.passage_doc), dtype=bool)
        return self.doc_table(self.code[d] for d in doc_ids if d in self.code)[self.passage_doc]

    def doc_ids_under(self, mask: np.ndarray) -> list[str]:
        """The documents with a passage in the mask, sorted."""
        present = np.zeros(len(self.doc_ids), dtype=bool)
        present[self.passage_doc[mask]] = True
        return [self.doc_ids[c] for c in self._by_name[present[self._by_name]].tolist()]

    def city_is(self, names: Iterable[str]) -> np.ndarray:
        """Mask of the passages that speak for one of these cities."""
        table = np.zeros(len(self.city_code), dtype=bool)
        table[[self.city_code[n] for n in names if n in self.city_code]] = True
        return table[self.passage_city]


def place_scopes(
    index: PlaceIndex,
    gazetteer: Gazetteer,
    places: list[str],
    kinds: Collection[str],
    base: np.ndarray,
    before: np.ndarray | None = None,
) -> tuple[list[Scope], list[str]]:
    """(mask, exact) per place named: one scope for none/one place, one per place to compare; and when the
    places' documents all lapsed by the date (``before``: the mask without the date's exclusions), none
    but those documents' ids, so another place's documents never answer for them."""
    if not places:
        return [(base, np.zeros_like(base))], []
    comparing = len(places) >= 2
    scopes, wanted = [], np.zeros_like(base)
    for place in places:
        ancestors = gazetteer.parents.get(place, [])
        node_city = index.city_is([place])
        own_mask = index.doc_table(index.containing.get(place, ()))[index.passage_doc] | node_city
        if comparing:
            mask = own_mask
        else:
            up = {c for a in set(ancestors) for c in index.ending.get(a, ())}
            # national passages that speak for another city (an NDRC practice of 青岛) are not about this place
            other_city = index.has_city & ~index.city_is([place, *ancestors])
            if "which_city" in kinds:  # the question asks which city: any city may answer
                other_city[:] = False
            docs = index.national.copy()
            docs[list(up)] = True
            mask = own_mask | (docs[index.passage_doc] & ~other_city)
        exact = index.doc_table(index.ending.get(place, ()))[index.passage_doc] | node_city
        wanted |= mask
        mask = mask & base
        if mask.any():
            scopes.append((mask, exact & mask))
    if not scopes and before is not None and (wanted & before).any():
        return [], index.doc_ids_under(wanted & before)
    return scopes or [(base, np.zeros_like(base))], []
