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


class _FakeBackend:
    def to_str(self) -> str:
        return '{"fake": "tokenizer"}'


class _FakeTokenizer:
    backend_tokenizer = _FakeBackend()


class FakeTagger:
    """Stands in for NerTagger in the model's process: tags each text as its length, raises
    ValueError on a text "bad", and kills its process on a text "die"."""

    tokenizer = _FakeTokenizer()

    def tag(self, texts):
        import os

        if "die" in texts:
            os._exit(3)
        if "bad" in texts:
            raise ValueError("the model broke on 'bad'")
        return [[len(text), os.getpid()] for text in texts]


def load_fake_tagger() -> FakeTagger:
    return FakeTagger()


def load_nothing():
    raise OSError("model folder 'missing' does not exist")
