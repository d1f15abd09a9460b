"""Download files of the 政策找人 tab, with bounded disk use.

Every run writes its Markdown and CSV into a fresh folder under ``root``. ``root`` lies inside Gradio's
cache folder, so Gradio serves the files from there instead of copying them again. Each new run deletes
export folders older than ``ttl`` seconds and all but the newest ``keep``, so an unauthenticated user
clicking away cannot fill the disk: the space used is at most ``keep`` runs' worth.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from assistant.decisions.eligibility import MatchResult

EXPORTS_FOLDER = "policy-qa-exports"
PREFIX = "policy-qa-match-"


class ExportStore:
    """Writes one export folder per run and prunes the old ones (across processes sharing ``root``)."""

    def __init__(self, root: Path, keep: int, ttl: float, forget: Iterable[set[str]] = ()) -> None:
        self.root = Path(root)
        self.keep = max(1, keep)
        self.ttl = ttl
        self._forget = list(forget)  # Gradio's per-component sets of files it served: drop deleted ones
        self._lock = threading.Lock()

    def folders(self) -> list[Path]:
        """Export folders, oldest first."""
        try:
            found = [p for p in self.root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)]
        except FileNotFoundError:
            return []
        return sorted(found, key=_mtime)

    def prune(self, keep: int | None = None) -> None:
        """Delete folders past the age limit and all but the newest ``keep``."""
        keep = self.keep if keep is None else keep
        with self._lock:
            folders = self.folders()
            cutoff = time.time() - self.ttl
            doomed = folders[: max(0, len(folders) - keep)] + [p for p in folders[-keep:] if _mtime(p) < cutoff]
            for folder in doomed:
                gone = {str(f) for f in folder.glob("*")}
                shutil.rmtree(folder, ignore_errors=True)
                for served in self._forget:
                    served.difference_update(gone)

    def write(self, result: MatchResult) -> tuple[str, str]:
        """Markdown and CSV (with BOM, for Excel) in a fresh folder; makes room for it first."""
        self.prune(self.keep - 1)
        self.root.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=self.root))
        md, csv = folder / "适用措施.md", folder / "适用措施.csv"
        md.write_text(result.to_markdown(), encoding="utf-8")
        csv.write_text(result.to_csv(), encoding="utf-8-sig")
        return str(md), str(csv)

    def disk_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) if self.root.exists() else 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
