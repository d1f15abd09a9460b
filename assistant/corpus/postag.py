"""jieba's part-of-speech tags for reading a document's places, with the unknown-word HMM in numpy.

``most_named_place`` tags the start of every document that names no issuer or place in its title. jieba
tags dictionary words by table lookup, but runs of characters it does not know go through a Viterbi
search over its 256 (position, tag) states written in pure Python, and that search was most of a cold
build's time (~0.5 s per document). ``PlaceTagger`` is jieba's ``POSTokenizer`` with only that search
replaced: the same additions in the same order (so the same float64 scores, to the bit), and ties broken
as jieba's ``max`` over (score, state) tuples breaks them (the larger state wins), so every word and tag
is jieba's own (tests/test_scale.py compares them on the default corpus and the scale corpora).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MIN_FLOAT = -3.14e100  # jieba's score of an emission the model never saw


class _Model:
    """jieba's POS HMM as arrays, states in descending order (``argmax`` keeps the first, i.e. larger, state)."""

    def __init__(self) -> None:
        from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P

        self.states: list[tuple[str, str]] = sorted(trans_P, reverse=True)
        index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        self.trans = np.full((n, n), -np.inf)
        self.succ = np.zeros((n, n), dtype=bool)
        for s, following in trans_P.items():
            for y, p in following.items():
                self.trans[index[s], index[y]] = p
                self.succ[index[s], index[y]] = True
        self.has_next = self.succ.any(axis=1)
        self.start = np.array([start_P[s] for s in self.states])
        self._all = np.ones(n, dtype=bool)
        self._char_states = {c: self._mask([index[s] for s in ss], n) for c, ss in char_state_tab_P.items()}
        self._emit_p = emit_P

    @staticmethod
    def _mask(rows: list[int], n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        return mask

    def allowed(self, char: str) -> np.ndarray:
        return self._char_states.get(char, self._all)

    @lru_cache(maxsize=4096)  # noqa: B019 - one model per process, kept for its life
    def emit(self, char: str) -> np.ndarray:
        return np.array([self._emit_p[s].get(char, MIN_FLOAT) for s in self.states])


@lru_cache(maxsize=1)
def _model() -> _Model:
    return _Model()


@lru_cache(maxsize=1 << 15)
def viterbi(obs: str) -> tuple[tuple[str, str], ...]:
    """The (position, tag) of each character: ``jieba.posseg.viterbi``'s route for ``obs``."""
    m = _model()
    present = m.allowed(obs[0])
    v = np.full(len(m.states), -np.inf)
    v[present] = m.start[present] + m.emit(obs[0])[present]
    back: list[np.ndarray] = []
    for char in obs[1:]:
        prev = (present & m.has_next).nonzero()[0]
        expect = m.succ[prev].any(axis=0)
        present = m.allowed(char) & expect
        if not present.any():
            present = expect if expect.any() else m._all
        ys = present.nonzero()[0]
        scores = (v[prev][:, None] + m.trans[prev][:, ys]) + m.emit(char)[ys]
        best = scores.argmax(axis=0)  # ValueError when nothing precedes, as jieba's max() of nothing
        v = np.full(len(m.states), -np.inf)
        v[ys] = scores[best, np.arange(len(ys))]
        step = np.full(len(m.states), -1)
        step[ys] = prev[best]
        back.append(step)
    ends = present.nonzero()[0]
    state = int(ends[v[ends].argmax()])
    route = [state]
    for step in reversed(back):
        state = int(step[state])
        route.append(state)
    return tuple(m.states[i] for i in reversed(route))


@lru_cache(maxsize=1)
def place_tagger():  # noqa: ANN201 - jieba has no types
    """jieba's POS tokenizer over the policy dictionary (``core.text.pos_tokenizer``'s tables, shared), with
    the unknown-word search above."""
    import jieba.posseg

    from assistant.core.text import pos_tokenizer

    class PlaceTagger(jieba.posseg.POSTokenizer):
        def __init__(self, base: jieba.posseg.POSTokenizer) -> None:  # no second dictionary load
            self.__dict__.update(base.__dict__)

        def _POSTokenizer__cut(self, sentence: str):  # noqa: ANN202, N802 - overrides jieba's private __cut
            route = viterbi(sentence)
            begin, nexti = 0, 0
            for i, char in enumerate(sentence):
                pos = route[i][0]
                if pos == "B":
                    begin = i
                elif pos == "E":
                    yield jieba.posseg.pair(sentence[begin : i + 1], route[i][1])
                    nexti = i + 1
                elif pos == "S":
                    yield jieba.posseg.pair(char, route[i][1])
                    nexti = i + 1
            if nexti < len(sentence):
                yield jieba.posseg.pair(sentence[nexti:], route[nexti][1])

    return PlaceTagger(pos_tokenizer())
