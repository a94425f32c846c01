"""What the collector received: observations in memory, mirrored to a JSONL file.

The file makes the collector's state survive a restart (``make observe-down``
then ``observe-up`` keeps the demo's data) and lets a person ``tail`` what
arrived. Every observation is stored as received, duplicates included:
whether a retry or replay sent something twice is exactly what the tests check.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional


def normalize_path(path: str) -> str:
    """``modelobs/evaluations``, ``/modelobs/evaluations/`` -> ``/modelobs/evaluations`` (Observe's EXTRA.path form)."""
    return "/" + path.strip("/")


class ObservationStore:
    """Thread-safe list of observations ``{seq, received_at, kind, path, extra, fields}``."""

    FILE_NAME = "observations.jsonl"

    def __init__(self, state_dir: Optional[Path] = None, *, load: bool = True) -> None:
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._file: Optional[Path] = None
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
            self._file = state_dir / self.FILE_NAME
            if load and self._file.exists():
                self._items = self._read(self._file)
            elif not load:
                self._file.write_text("")

    @staticmethod
    def _read(path: Path) -> list[dict[str, Any]]:
        items = []
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    items.append(json.loads(line))
                except ValueError:
                    continue  # a line cut by a crash mid-write; the rest is still good
        return items

    def add(self, path: str, extra: dict[str, Any], objects: list[Any]) -> int:
        """Store one request's observations atomically (all or none); returns how many."""
        now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self._lock:
            seq = len(self._items)
            new = [
                {
                    "seq": seq + i,
                    "received_at": now,
                    "kind": "http",
                    "path": normalize_path(path),
                    "extra": {"path": normalize_path(path), **extra},
                    "fields": obj,
                }
                for i, obj in enumerate(objects)
            ]
            if self._file is not None:
                with self._file.open("a", encoding="utf-8") as fh:
                    fh.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in new))
            self._items.extend(new)
            return len(new)

    def query(self, path: Optional[str] = None, since: int = 0, limit: Optional[int] = None) -> list[dict[str, Any]]:
        want = normalize_path(path) if path else None
        with self._lock:
            out = [o for o in self._items[since:] if want is None or o["path"] == want]
        return out if limit is None else out[:limit]

    def count(self, path: Optional[str] = None) -> dict[str, Any]:
        """Totals for tests: every copy, distinct record ids (Observe's dedupe key), and copies per id above one."""
        items = self.query(path)
        ids = Counter(o["fields"].get("id") for o in items if isinstance(o["fields"], dict) and "id" in o["fields"])
        return {
            "path": normalize_path(path) if path else None,
            "count": len(items),
            "distinct_ids": len(ids),
            "duplicates": sum(n - 1 for n in ids.values() if n > 1),
        }

    def reset(self) -> None:
        with self._lock:
            self._items = []
            if self._file is not None:
                self._file.write_text("")
