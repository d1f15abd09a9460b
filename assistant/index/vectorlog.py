"""The vector cache: vectors by text hash for one embedder, in an append-only file.

    <index_dir>/vectors/<embedder>.vec    header (magic, dimension), then fixed-size records (key, vector)

Appending a batch costs that batch, whatever the cache holds (the old ``.npz`` was rewritten whole on
every build), and a record cut short by ``kill -9`` is ignored when the file is read back, so a killed
build keeps every batch it finished. Shipped caches (``corpus/.vector_cache/*.npz``) stay read-only
fallbacks. The file is read lazily: a process that only answers questions never loads it.
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
    """(keys, vectors) of every whole record; a torn last record (killed writer) is left out."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER.size)
        if len(head) < HEADER.size:
            return np.zeros(0, "S32"), np.zeros((0, 0), np.float32)
        magic, dim = HEADER.unpack(head)
        if magic != MAGIC or dim <= 0:
            raise ValueError(f"not a vector log: {path}")
        rec = _record(dim)
        count = (os.fstat(fh.fileno()).st_size - HEADER.size) // rec.itemsize
        data = np.fromfile(fh, dtype=rec, count=count)
    return data["key"], data["vec"]


class VectorCache:
    """Vectors by text hash for one embedder: an append-only log, plus read-only fallbacks (.npz or log)."""

    def __init__(self, path: Path, fallbacks: Sequence[Path] = ()) -> None:
        self.path = path
        self._fallbacks = list(fallbacks)
        self._vectors: dict[str, np.ndarray] | None = None
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

    def __len__(self) -> int:
        return len(self._loaded())

    def get(self, key: str) -> np.ndarray | None:
        return self._loaded().get(key)

    def put(self, key: str, vector: Sequence[float]) -> None:
        self.put_many([key], [vector])

    def put_many(self, keys: Sequence[str], vectors: Sequence[Sequence[float]]) -> None:
        """Add vectors and append them to the log at once (one write per batch)."""
        with self._lock:
            store = self._loaded()
            for key, vec in zip(keys, vectors, strict=True):
                arr = np.asarray(vec, dtype=np.float32)
                if key not in store:
                    self._pending.append((key, arr))
                store[key] = arr
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
