"""Test doubles shared by the publishing tests."""

from __future__ import annotations

from pathlib import Path


class RecordingApi:
    """Stands in for HfApi: records the calls and the uploaded files, optionally failing like
    an unreachable Hub."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
        self.uploaded: dict[str, str] = {}
        self.error = error

    def _record(self, name: str, **kwargs):
        self.calls.append((name, kwargs))
        if self.error is not None:
            raise self.error

    def create_repo(self, repo_id, **kwargs):
        self._record("create_repo", repo_id=repo_id, **kwargs)

    def create_branch(self, repo_id, **kwargs):
        self._record("create_branch", repo_id=repo_id, **kwargs)

    def upload_folder(self, **kwargs):
        self._record("upload_folder", **kwargs)
        if kwargs.get("repo_type") == "space":
            folder = Path(kwargs["folder_path"])
            self.uploaded = {path.name: path.read_text() for path in folder.iterdir()}
        prefix = "spaces/" if kwargs.get("repo_type") == "space" else ""
        return f"https://huggingface.co/{prefix}{kwargs['repo_id']}/commit/abc123"

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]
