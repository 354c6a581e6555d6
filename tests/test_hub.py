"""Publishing: what goes up, who pushes, and the clear errors of a push that cannot happen.

The Hub is unreachable here, so pushes go to a recording stand-in for HfApi; the real HfApi is
only used to check that offline mode ends in the same clear error.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, metadata_load
from huggingface_hub.errors import OfflineModeIsEnabled
from test_model_card import F1, make_results

import swiss_ner.hub as hub
from swiss_ner.data import ID2LABEL, LABEL2ID
from swiss_ner.hub import HubPushError, files_to_upload, push_to_hub
from swiss_ner.model_card import write_model_card

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "push_to_hub.py"
REPO_ID = "swiss-org/xlmr-panx-ch"


class RecordingApi:
    """Stands in for HfApi: records the calls, optionally failing like an unreachable Hub."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[tuple[str, dict]] = []
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
        return f"https://huggingface.co/{kwargs['repo_id']}/commit/abc123"

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class FakeAccelerator:
    def __init__(self, is_main_process: bool):
        self.is_main_process = is_main_process
        self.waits = 0

    def wait_for_everyone(self) -> None:
        self.waits += 1


@pytest.fixture(scope="module")
def publish_template(tmp_path_factory) -> Path:
    """A complete tiny publish folder, plus checkpoints/ and logs/ that must stay local."""
    from transformers import XLMRobertaConfig, XLMRobertaForTokenClassification, XLMRobertaTokenizer

    folder = tmp_path_factory.mktemp("publish")
    letters = sorted(set("abcdefghijklmnopqrstuvwxyzäöüéèàABCDEFGHIJKLMNOPQRSTUVWXYZ.,"))
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -1.0)]
    vocab += [("▁" + c, -2.0) for c in letters] + [(c, -3.0) for c in letters]
    vocab.append(("<mask>", 0.0))
    XLMRobertaTokenizer(vocab=vocab).save_pretrained(folder)
    config = XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=80,
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    XLMRobertaForTokenClassification(config).save_pretrained(folder)
    (folder / "results.json").write_text(json.dumps(make_results(model_name_or_path="tiny")))
    write_model_card(folder)
    (folder / "checkpoints" / "epoch_0").mkdir(parents=True)
    (folder / "checkpoints" / "epoch_0" / "model.safetensors").write_bytes(b"0" * 64)
    (folder / "logs" / "swiss-ner").mkdir(parents=True)
    (folder / "logs" / "swiss-ner" / "events.out.tfevents.1").write_bytes(b"0" * 16)
    return folder


@pytest.fixture
def publish_dir(publish_template, tmp_path) -> Path:
    return Path(shutil.copytree(publish_template, tmp_path / "xlmr-panx-ch"))


@pytest.fixture
def no_token(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setattr(hub, "get_token", lambda: None)


def local_files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def test_push_creates_repo_and_uploads_the_folder_once(publish_dir):
    api = RecordingApi()
    url = push_to_hub(publish_dir, REPO_ID, private=True, token="hf_test", api=api)
    assert url.endswith("/commit/abc123")
    assert api.names() == ["create_repo", "upload_folder"]
    create, upload = (kwargs for _, kwargs in api.calls)
    assert create["repo_id"] == REPO_ID
    assert create["private"] is True
    assert create["exist_ok"] is True
    assert create["repo_type"] == "model"
    assert Path(upload["folder_path"]) == publish_dir.resolve()
    assert upload["repo_id"] == REPO_ID
    assert upload["revision"] is None
    assert set(upload["ignore_patterns"]) == {"checkpoints/", "logs/"}
    assert upload["commit_message"].startswith("swiss-ner: train de; validation F1 de 0.861")
    assert metadata_load(publish_dir / "README.md")["model-index"][0]["name"] == "xlmr-panx-ch"
    assert f'model="{REPO_ID}"' in (publish_dir / "README.md").read_text()


def test_push_to_a_branch_creates_it_first(publish_dir):
    api = RecordingApi()
    push_to_hub(publish_dir, REPO_ID, revision="v1", commit_message="first", token="t", api=api)
    assert api.names() == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[1][1]["branch"] == "v1"
    assert api.calls[2][1]["revision"] == "v1"
    assert api.calls[2][1]["commit_message"] == "first"


def test_only_the_main_process_pushes(publish_dir):
    api = RecordingApi()
    worker = FakeAccelerator(is_main_process=False)
    assert push_to_hub(publish_dir, REPO_ID, token="t", api=api, accelerator=worker) is None
    assert worker.waits == 1
    assert api.calls == []
    main = FakeAccelerator(is_main_process=True)
    push_to_hub(publish_dir, REPO_ID, token="t", api=api, accelerator=main)
    assert main.waits == 1
    assert api.names() == ["create_repo", "upload_folder"]


def test_no_token_is_a_clear_error_and_keeps_the_folder(publish_dir, no_token):
    before = local_files(publish_dir)
    api = RecordingApi()
    with pytest.raises(HubPushError) as caught:
        push_to_hub(publish_dir, REPO_ID, api=api)
    message = str(caught.value)
    assert "no Hugging Face token" in message
    assert "hf auth login" in message and "HF_TOKEN" in message
    assert f"scripts/push_to_hub.py {publish_dir.resolve()} --repo-id {REPO_ID}" in message
    assert api.calls == []
    assert local_files(publish_dir) == before


def test_offline_hub_is_a_clear_error_and_keeps_the_folder(publish_dir, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    before = local_files(publish_dir)
    with pytest.raises(HubPushError, match="offline mode") as caught:
        push_to_hub(publish_dir, REPO_ID, token="hf_not_a_real_token", api=HfApi())
    assert "is complete and kept as is" in str(caught.value)
    assert isinstance(caught.value.__cause__, OfflineModeIsEnabled)
    assert local_files(publish_dir) == before


def test_connection_error_is_a_clear_error(publish_dir, monkeypatch):
    monkeypatch.setattr(hub, "is_offline_mode", lambda: False)
    api = RecordingApi(error=httpx2.ConnectError("Name or service not known"))
    with pytest.raises(HubPushError, match="could not be reached") as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)
    assert (publish_dir / "model.safetensors").is_file()


def test_dry_run_lists_files_and_card_and_pushes_nothing(publish_dir, no_token, capsys):
    api = RecordingApi()
    listed = push_to_hub(publish_dir, REPO_ID, dry_run=True, api=api)
    out = capsys.readouterr().out
    assert api.calls == []
    assert {"README.md", "config.json", "model.safetensors", "results.json"} <= set(listed)
    assert {"tokenizer.json", "tokenizer_config.json", "results_per_language.csv"} <= set(listed)
    assert not [name for name in listed if name.startswith(("checkpoints/", "logs/"))]
    for name in listed:
        assert name in out
    assert "checkpoints/" not in out.split("excluded:")[0]
    assert "No Hugging Face token found" in out
    assert "model-index:" in out and "| Language | Sentences |" in out


def test_checkpoints_and_logs_are_not_uploaded(publish_dir):
    names = [name for name, _ in files_to_upload(publish_dir)]
    assert "model.safetensors" in names
    assert all(not name.startswith(("checkpoints", "logs")) for name in names)
    sizes = dict(files_to_upload(publish_dir))
    assert sizes["model.safetensors"] == (publish_dir / "model.safetensors").stat().st_size


def test_missing_results_and_weights_are_named(publish_dir):
    (publish_dir / "results.json").unlink()
    (publish_dir / "model.safetensors").unlink()
    api = RecordingApi()
    with pytest.raises(HubPushError) as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    message = str(caught.value)
    assert "results.json" in message and "model weights" in message
    assert "tokenizer" not in message
    assert api.calls == []


def test_script_help_runs():
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--repo-id" in completed.stdout and "--dry-run" in completed.stdout


def test_script_exits_1_with_the_message_and_no_traceback(publish_dir, no_token, capsys):
    spec = importlib.util.spec_from_file_location("push_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(publish_dir), "--repo-id", REPO_ID]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Could not push")
    assert "Traceback" not in err
    assert module.main([str(publish_dir), "--repo-id", REPO_ID, "--dry-run"]) == 0


def test_dry_run_of_a_real_training_run(trained_model_dir, tmp_path, capsys):
    folder = Path(shutil.copytree(trained_model_dir, tmp_path / "run"))
    listed = push_to_hub(folder, REPO_ID, dry_run=True, api=RecordingApi())
    assert {"config.json", "model.safetensors", "results.json", "README.md"} <= set(listed)
    assert not [name for name in listed if name.startswith(("checkpoints/", "logs/"))]
    results = json.loads((folder / "results.json").read_text())
    entries = metadata_load(folder / "README.md")["model-index"][0]["results"]
    assert [entry["dataset"]["config"] for entry in entries] == [
        f"PAN-X.{lang}" for lang in results["metrics"]
    ]
    assert set(F1) >= set(results["metrics"])
    capsys.readouterr()
