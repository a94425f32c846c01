"""The emulator's state: Labelbox's objects as plain dicts, one lock, optional JSON persistence.

Plain dicts keyed by id (field names as the GraphQL API spells them) keep
the resolvers short and make ``GET /_emulator/state`` a dump of the truth.
One re-entrant lock serializes every change: the server is threaded and the
SDK uploads from a thread pool. Blobs (uploaded images, manifests, import and
export files) live in memory and, with a state directory, on disk beside
``state.json``, so a restarted emulator still serves the images its data rows
point at.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

COLLECTIONS = (
    "datasets",
    "data_rows",
    "ontologies",
    "projects",
    "labeling_frontends",
    "lfos",
    "batches",
    "tasks",
    "imports",
    "labels",
    "webhooks",
    "deliveries",
    "gk_jobs",
    "files",
)


def new_id() -> str:
    """A Labelbox-looking id: 25 lowercase alphanumerics starting with ``c`` (a cuid)."""
    return "c" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def now_iso() -> str:
    """UTC time as the GraphQL API returns it (the SDK parses ``%Y-%m-%dT%H:%M:%S.%fZ``)."""
    t = datetime.now(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def image_size(blob: bytes) -> tuple[int, int, str] | None:
    """(width, height, mime type) of a PNG, JPEG, GIF or WebP from its header; None otherwise.

    Stdlib only (the emulator must run under any Python); Labelbox reports
    these as the data row's media attributes, which exports carry.
    """
    if blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) >= 24:
        w, h = struct.unpack(">II", blob[16:24])
        return w, h, "image/png"
    if blob[:6] in (b"GIF87a", b"GIF89a") and len(blob) >= 10:
        w, h = struct.unpack("<HH", blob[6:10])
        return w, h, "image/gif"
    if blob[:4] == b"RIFF" and blob[8:12] == b"WEBP" and len(blob) >= 30:
        chunk = blob[12:16]
        if chunk == b"VP8X":
            w = 1 + int.from_bytes(blob[24:27], "little")
            h = 1 + int.from_bytes(blob[27:30], "little")
            return w, h, "image/webp"
        if chunk == b"VP8 ":
            w, h = struct.unpack("<HH", blob[26:30])
            return w & 0x3FFF, h & 0x3FFF, "image/webp"
        if chunk == b"VP8L":
            b = blob[21:25]
            w = 1 + (((b[1] & 0x3F) << 8) | b[0])
            h = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return w, h, "image/webp"
    if blob[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(blob):
            if blob[i] != 0xFF:
                i += 1
                continue
            marker = blob[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            seg_len = struct.unpack(">H", blob[i + 2 : i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                h, w = struct.unpack(">HH", blob[i + 5 : i + 9])
                return w, h, "image/jpeg"
            i += 2 + seg_len
    return None


class Store:
    """All emulated Labelbox state, guarded by ``lock``; ``save()`` after a change persists it."""

    def __init__(self, state_dir: str | os.PathLike[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.state_dir = Path(state_dir) if state_dir else None
        self.blobs: dict[str, bytes] = {}
        self.ops: dict[str, int] = {}
        self.reset(load=True)

    # --- lifecycle ---------------------------------------------------------------------

    def reset(self, load: bool = False) -> None:
        """Empty state (or what ``state.json`` holds when ``load``); the user and org survive."""
        with self.lock:
            self.data: dict[str, Any] = {name: {} for name in COLLECTIONS}
            self.data["prelabels"] = {}  # project id -> data row id -> uuid -> annotation
            self.blobs = {}
            self.ops = {}
            if load and self.state_dir and (self.state_dir / "state.json").exists():
                saved = json.loads((self.state_dir / "state.json").read_text())
                self.data.update(saved)
                files_dir = self.state_dir / "files"
                for fid in self.data["files"]:
                    path = files_dir / fid
                    if path.exists():
                        self.blobs[fid] = path.read_bytes()
            self._ensure_singletons()
            if not load:
                self.save(clear_files=True)

    def _ensure_singletons(self) -> None:
        stamp = now_iso()
        self.data.setdefault("organization", {"id": new_id(), "name": "modelobs-emulated-org", "createdAt": stamp, "updatedAt": stamp})
        self.data.setdefault(
            "user",
            {
                "id": new_id(),
                "email": "reviewer@modelobs.local",
                "name": "Emulated Reviewer",
                "nickname": "reviewer",
                "picture": None,
                "isExternalUser": False,
                "isViewer": False,
                "lastLoginAt": stamp,
                "createdAt": stamp,
                "updatedAt": stamp,
                "timezone": "UTC",
            },
        )
        if not self.data["labeling_frontends"]:
            lf_id = new_id()
            self.data["labeling_frontends"][lf_id] = {
                "id": lf_id,
                "name": "Editor",
                "description": "Labelbox's image editor",
                "iframeUrlPath": "https://editor.labelbox.com",
            }

    def save(self, clear_files: bool = False) -> None:
        """Write ``state.json`` atomically (no-op without a state directory)."""
        if not self.state_dir:
            return
        with self.lock:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            files_dir = self.state_dir / "files"
            files_dir.mkdir(exist_ok=True)
            if clear_files:
                for path in files_dir.iterdir():
                    path.unlink()
            tmp = self.state_dir / "state.json.tmp"
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
            os.replace(tmp, self.state_dir / "state.json")

    # --- blobs -------------------------------------------------------------------------

    def put_blob(self, content: bytes, filename: str, content_type: str | None) -> str:
        """Store bytes and return their file id (served at ``/_files/<id>/<filename>``)."""
        with self.lock:
            fid = new_id()
            self.data["files"][fid] = {
                "id": fid,
                "filename": filename or "blob",
                "contentType": content_type or "application/octet-stream",
                "size": len(content),
                "createdAt": now_iso(),
            }
            self.blobs[fid] = content
            if self.state_dir:
                files_dir = self.state_dir / "files"
                files_dir.mkdir(parents=True, exist_ok=True)
                (files_dir / fid).write_bytes(content)
            return fid

    def get_blob(self, fid: str) -> tuple[dict[str, Any], bytes] | None:
        with self.lock:
            meta = self.data["files"].get(fid)
            blob = self.blobs.get(fid)
            return (meta, blob) if meta is not None and blob is not None else None

    # --- bookkeeping -------------------------------------------------------------------

    def count_op(self, name: str) -> None:
        with self.lock:
            self.ops[name] = self.ops.get(name, 0) + 1
