"""The vector cache: vectors by text hash for one embedder, in an append-only file.

    <index_dir>/vectors/<embedder>.vec    header (magic, dimension), then fixed-size records (key, vector)

Appending a batch costs that batch, whatever the cache holds (the old ``.npz`` was rewritten whole on
every build), and a record cut short by ``kill -9`` is ignored when the file is read back, so a killed
build keeps every batch it finished. Shipped caches (``corpus/.vector_cache/*.npz``) stay read-only
fallbacks. The file is read lazily: a process that only answers questions never loads it, and an update
looks up just its documents' keys in the memory-mapped log (``prefetch``: an index of the keys, built once per
process) instead of loading the corpus's vectors (0.5 s and ~300 MB of Python objects at 100k passages,
whatever the update's size).
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MAGIC = b"PQAVEC1\0"
HEADER = struct.Struct("<8sI4x")  # magic, dimension, padding: 16 bytes


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _record(dim: int) -> np.dtype:
    return np.dtype([("key", "S32"), ("vec", "<f4", (dim,))])


def read_log(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(keys, vectors) of every whole record, in memory; a torn last record (killed writer) is left out."""
    keys, vecs = _mapped(path)
    return np.array(keys), np.array(vecs)


def _mapped(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(keys, vectors) of every whole record, memory-mapped: nothing is read until used; a torn last record
    (killed writer) is left out."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER.size)
    if len(head) < HEADER.size:
        return np.zeros(0, "S32"), np.zeros((0, 0), np.float32)
    magic, dim = HEADER.unpack(head)
    if magic != MAGIC or dim <= 0:
        raise ValueError(f"not a vector log: {path}")
    rec = _record(dim)
    count = (path.stat().st_size - HEADER.size) // rec.itemsize
    if count <= 0:
        return np.zeros(0, "S32"), np.zeros((0, dim), np.float32)
    data = np.memmap(path, dtype=rec, mode="r", offset=HEADER.size, shape=(count,))
    return data["key"], data["vec"]


class VectorCache:
    """Vectors by text hash for one embedder: an append-only log, plus read-only fallbacks (.npz or log)."""

    def __init__(self, path: Path, fallbacks: Sequence[Path] = ()) -> None:
        self.path = path
        self._fallbacks = list(fallbacks)
        self._vectors: dict[str, np.ndarray] | None = None  # every vector: only for len() and save(keep)
        self._found: dict[str, np.ndarray | None] = {}  # keys looked up (None: not cached) or added here
        self._files: dict[Path, tuple[dict[bytes, int], np.ndarray]] = {}  # per file: key -> row, vectors
        self._pending: list[tuple[str, np.ndarray]] = []
        self._lock = threading.RLock()

    def _loaded(self) -> dict[str, np.ndarray]:
        with self._lock:
            if self._vectors is None:
                vectors: dict[str, np.ndarray] = {}
                for p in [*self._fallbacks, self.path]:
                    self._load(p, vectors)
                self._vectors = vectors
            return self._vectors

    @staticmethod
    def _load(path: Path, into: dict[str, np.ndarray]) -> None:
        if not path.exists():
            return
        try:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as data:
                    keys, vecs = data["keys"], data["vectors"]
                into.update({str(k): v for k, v in zip(keys, vecs, strict=True)})
            else:
                keys, vecs = read_log(path)
                into.update({k.decode("ascii"): v for k, v in zip(keys.tolist(), vecs, strict=True)})
        except Exception as exc:  # a damaged cache only costs time: re-embed
            logger.warning("Ignoring unreadable vector cache %s (%s)", path, exc)

    def _rows(self, path: Path) -> tuple[dict[bytes, int], np.ndarray]:
        """``path``'s key -> row (a key's last record wins, as in ``_load``) and its vectors, memory-mapped for a
        log; read once per process, so a look-up costs the keys asked for, never another pass over the file.
        Records this process appends later are in ``_found``."""
        found = self._files.get(path)
        if found is None:
            keys, vecs = np.zeros(0, "S32"), np.zeros((0, 0), np.float32)
            try:
                if path.suffix == ".npz" and path.exists():
                    with np.load(path, allow_pickle=False) as data:
                        keys, vecs = data["keys"].astype("S32"), data["vectors"]
                elif path.exists():
                    keys, vecs = _mapped(path)
            except Exception as exc:  # a damaged cache only costs time: re-embed
                logger.warning("Ignoring unreadable vector cache %s (%s)", path, exc)
            found = self._files[path] = ({k: i for i, k in enumerate(keys.tolist())}, vecs)
        return found

    def prefetch(self, keys: Sequence[str]) -> None:
        """Look these keys up in the files (their key index, built once; never the whole cache's vectors in memory)."""
        with self._lock:
            if self._vectors is not None:
                return
            wanted = [k for k in dict.fromkeys(keys) if k not in self._found]
            if not wanted:
                return
            hits: dict[str, np.ndarray] = {}
            for p in [*self._fallbacks, self.path]:
                rows, vecs = self._rows(p)
                for key in wanted:
                    row = rows.get(key.encode("ascii"))
                    if row is not None:
                        hits[key] = np.array(vecs[row], dtype=np.float32)
            self._found.update({k: hits.get(k) for k in wanted})

    def __len__(self) -> int:
        return len(self._loaded())

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            if self._vectors is not None:
                return self._vectors.get(key)
            if key not in self._found:
                self.prefetch([key])
            return self._found[key]

    def put(self, key: str, vector: Sequence[float]) -> None:
        self.put_many([key], [vector])

    def put_many(self, keys: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Add vectors and append them to the log at once (one write per batch)."""
        with self._lock:
            self.prefetch(keys)  # a key already stored is not appended again
            for key, vec in zip(keys, vectors, strict=True):
                arr = np.asarray(vec, dtype=np.float32)
                known = self._vectors.get(key) if self._vectors is not None else self._found.get(key)
                if known is None:
                    self._pending.append((key, arr))
                if self._vectors is not None:
                    self._vectors[key] = arr
                else:
                    self._found[key] = arr
            self.flush()

    def flush(self, durable: bool = False) -> None:
        """Append pending vectors; ``durable`` also fsyncs (before a build becomes current)."""
        with self._lock:
            if not self._pending and not durable:
                return
            pending, self._pending = self._pending, []
            if not pending and not self.path.exists():
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as fh:
                dim = self._header(fh, pending)
                if pending:
                    rows = np.zeros(len(pending), dtype=_record(dim))
                    rows["key"] = [k.encode("ascii") for k, _ in pending]
                    rows["vec"] = np.stack([v for _, v in pending])
                    fh.write(rows.tobytes())
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())

    def _header(self, fh, pending: list[tuple[str, np.ndarray]]) -> int:  # noqa: ANN001 - a binary file
        """The log's dimension, writing the header first when the file is new (or was cut inside it)."""
        size = fh.tell()
        if size >= HEADER.size:
            with open(self.path, "rb") as head:
                dim = HEADER.unpack(head.read(HEADER.size))[1]
            torn = (size - HEADER.size) % _record(dim).itemsize
            if torn:  # a record cut short by a kill: drop it, so the next ones stay aligned
                fh.truncate(size - torn)
            return dim
        dim = int(pending[0][1].shape[0]) if pending else 0
        if size:  # a header cut short by a kill: start the file again
            fh.truncate(0)
        fh.write(HEADER.pack(MAGIC, dim))
        return dim

    def save(self, keep: set[str] | None = None) -> None:
        """Write pending vectors; with ``keep``, write an .npz of just those keys (a shipped cache) atomically."""
        if keep is None:
            self.flush(durable=True)
            return
        items = [(k, v) for k, v in self._loaded().items() if k in keep]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        keys = np.array([k for k, _ in items], dtype="U32")
        vecs = np.stack([v for _, v in items]) if items else np.zeros((0, 0), np.float32)
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.path)
