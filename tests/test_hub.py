"""Publishing: what goes up, who pushes, and the clear errors of a push that cannot happen.

The Hub is unreachable here, so pushes go to a recording stand-in for HfApi; the real HfApi is
only used to check that offline mode ends in the same clear error.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import RecordingApi
from huggingface_hub import HfApi, metadata_load
from huggingface_hub.errors import HFValidationError, OfflineModeIsEnabled
from test_model_card import MISC_LABELS, make_results, save_tiny_model

import swiss_ner.commands.push as push_command
import swiss_ner.hub as hub
from swiss_ner.cli import main as cli_main
from swiss_ner.config import PushConfig
from swiss_ner.hub import (
    LOGIN_HELP,
    HubPushError,
    TransportHTTPError,
    files_to_upload,
    missing_publish_files,
    push_to_hub,
)
from swiss_ner.model_card import write_model_card
from swiss_ner.results import RunResults

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "push_to_hub.py"
REPO_ID = "swiss-org/xlmr-panx-ch"
# huggingface_hub's HTTP library (httpx2 for 2.x, httpx for 1.x), as swiss_ner.hub resolved it.
transport = importlib.import_module(TransportHTTPError.__module__.split(".")[0])


class FakeAccelerator:
    def __init__(self, is_main_process: bool):
        self.is_main_process = is_main_process
        self.waits = 0

    def wait_for_everyone(self) -> None:
        self.waits += 1


@pytest.fixture(scope="module")
def publish_template(tmp_path_factory) -> Path:
    """A complete tiny publish folder, plus checkpoints/ and logs/ that must stay local."""
    folder = save_tiny_model(tmp_path_factory.mktemp("publish"))
    make_results(model_name_or_path="tiny").save(folder / "results.json")
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
    monkeypatch.setattr(push_command, "get_token", lambda: None)


def local_files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in folder.rglob("*")
        if path.is_file()
    }


def assert_one_line(error: Exception) -> str:
    message = str(error)
    assert "\n" not in message, message
    return message


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


def test_visibility_is_left_to_the_namespace_by_default(publish_dir):
    api = RecordingApi()
    push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert api.calls[0][1]["private"] is None
    assert PushConfig(output_dir=str(publish_dir), repo_id=REPO_ID).private is None


def test_commit_message_names_the_test_split_when_it_leads(publish_dir):
    make_results(test=True).save(publish_dir / "results.json")
    api = RecordingApi()
    push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert api.calls[1][1]["commit_message"].startswith("swiss-ner: train de; test F1 de 0.851")


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
    message = assert_one_line(caught.value)
    assert "no Hugging Face token" in message
    assert "hf auth login" in message and "HF_TOKEN" in message
    assert "huggingface-cli" not in message
    assert f"`swiss-ner push {publish_dir.resolve()} --repo-id {REPO_ID}`" in message
    assert api.calls == []
    assert local_files(publish_dir) == before


def test_login_help_names_only_the_current_command():
    assert "hf auth login" in LOGIN_HELP
    assert "huggingface-cli" not in LOGIN_HELP


def test_a_bad_repo_id_is_refused_before_the_card_is_touched(publish_dir):
    before = local_files(publish_dir)
    api = RecordingApi()
    with pytest.raises(HubPushError, match="'bad id' is not a valid Hub id") as caught:
        push_to_hub(publish_dir, "bad id", token="t", api=api)
    assert_one_line(caught.value)
    assert api.calls == []
    assert local_files(publish_dir) == before


def test_the_command_line_refuses_a_bad_repo_id_in_one_line(publish_dir, capsys):
    before = local_files(publish_dir)
    assert cli_main(["push", str(publish_dir), "--repo-id", "org/bad/id"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("swiss-ner: error: --repo-id 'org/bad/id' is not a valid Hub id")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert local_files(publish_dir) == before


def test_a_value_error_of_the_hub_client_becomes_a_push_error(publish_dir):
    api = RecordingApi(error=HFValidationError("Invalid metadata in README.md."))
    with pytest.raises(HubPushError, match="refused the request: Invalid metadata") as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert_one_line(caught.value)
    assert isinstance(caught.value.__cause__, HFValidationError)


def test_a_results_json_of_another_version_is_a_push_error(publish_dir):
    (publish_dir / "results.json").write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(HubPushError, match="model card could not be written") as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=RecordingApi())
    assert_one_line(caught.value)


def test_offline_hub_is_a_clear_error_and_keeps_the_folder(publish_dir, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    before = set(local_files(publish_dir))
    with pytest.raises(HubPushError, match="offline mode") as caught:
        push_to_hub(publish_dir, REPO_ID, token="hf_not_a_real_token", api=HfApi())
    assert "is\ncomplete" not in str(caught.value)
    assert "complete and kept as is" in assert_one_line(caught.value)
    assert isinstance(caught.value.__cause__, OfflineModeIsEnabled)
    assert set(local_files(publish_dir)) == before


def test_connection_error_is_a_clear_error(publish_dir, monkeypatch):
    monkeypatch.setattr(hub, "is_offline_mode", lambda: False)
    api = RecordingApi(error=transport.ConnectError("Name or service not known"))
    with pytest.raises(HubPushError, match="could not be reached") as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert isinstance(caught.value.__cause__, transport.ConnectError)
    assert (publish_dir / "model.safetensors").is_file()


def test_dry_run_lists_files_and_card_and_pushes_nothing(publish_dir, no_token, capsys):
    api = RecordingApi()
    listed = push_to_hub(publish_dir, REPO_ID, dry_run=True, api=api)
    assert capsys.readouterr().out == "", "the library returns the plan; the command prints it"
    config = PushConfig(output_dir=str(publish_dir), repo_id=REPO_ID, dry_run=True)
    assert push_command.run(config, api=api) == 0
    out = capsys.readouterr().out
    assert api.calls == []
    assert {"README.md", "config.json", "model.safetensors", "results.json"} <= set(listed)
    assert {"tokenizer.json", "tokenizer_config.json", "results_per_language.csv"} <= set(listed)
    assert not [name for name in listed if name.startswith(("checkpoints/", "logs/"))]
    for name in listed:
        assert name in out
    assert "checkpoints/" not in out.split("excluded:")[0]
    assert "visibility: the namespace's default" in out
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
    message = assert_one_line(caught.value)
    assert "results.json" in message and "model weights" in message
    assert "tokenizer" not in message
    assert api.calls == []


def test_a_folder_without_a_tokenizer_is_refused(publish_dir):
    for path in publish_dir.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens", "sentencepiece")):
            path.unlink()
    before = local_files(publish_dir)
    api = RecordingApi()
    with pytest.raises(HubPushError, match="missing a loadable tokenizer") as caught:
        push_to_hub(publish_dir, REPO_ID, token="t", api=api)
    assert_one_line(caught.value)
    assert api.calls == []
    assert local_files(publish_dir) == before


def test_any_iob2_label_set_can_be_published(tmp_path):
    folder = save_tiny_model(tmp_path / "misc", MISC_LABELS)
    make_results(label_names=MISC_LABELS, model_name_or_path="tiny").save(folder / "results.json")
    assert missing_publish_files(folder) == []
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
    (folder / "config.json").write_text(json.dumps(config))
    assert [problem.split(" (")[0] for problem in missing_publish_files(folder)] == [
        "id2label with an IOB2 label set"
    ]


def test_script_help_runs():
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--repo-id" in completed.stdout and "--dry-run" in completed.stdout


def test_command_exits_1_with_the_message_and_no_traceback(publish_dir, no_token, capsys):
    assert cli_main(["push", str(publish_dir), "--repo-id", REPO_ID]) == 1
    err = capsys.readouterr().err
    assert err.startswith("swiss-ner: error: Could not push")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert cli_main(["push", str(publish_dir), "--repo-id", REPO_ID, "--dry-run"]) == 0


def test_run_pushes_and_prints_the_url(publish_dir, capsys):
    api = RecordingApi()
    config = PushConfig(output_dir=str(publish_dir), repo_id=REPO_ID, token="t")
    assert push_command.run(config, api=api) == 0
    assert api.names() == ["create_repo", "upload_folder"]
    assert f"to https://huggingface.co/{REPO_ID}: " in capsys.readouterr().out


def test_run_with_a_space_pushes_it_after_the_model(publish_dir, capsys):
    pytest.importorskip("gradio", reason="the Space's sdk_version is the installed gradio")
    space_id = f"{REPO_ID}-demo"
    config = PushConfig(output_dir=str(publish_dir), repo_id=REPO_ID, token="t", with_space=True)
    api = RecordingApi()
    assert push_command.run(config, api=api) == 0
    assert [(name, kwargs["repo_type"]) for name, kwargs in api.calls] == [
        ("create_repo", "model"), ("upload_folder", "model"),
        ("create_repo", "space"), ("upload_folder", "space"),
    ]
    assert api.calls[2][1]["repo_id"] == space_id
    assert f"https://huggingface.co/spaces/{space_id}" in capsys.readouterr().out
    assert f"(https://huggingface.co/spaces/{space_id})" in (publish_dir / "README.md").read_text()

    dry = PushConfig(output_dir=str(publish_dir), repo_id=REPO_ID, dry_run=True, space=space_id)
    assert push_command.run(dry, api=RecordingApi()) == 0
    out = capsys.readouterr().out
    assert f"Would upload to https://huggingface.co/spaces/{space_id}" in out
    assert "app.py" in out and "requirements.txt" in out


def test_dry_run_of_a_real_training_run(trained_model_dir, tmp_path, capsys):
    folder = Path(shutil.copytree(trained_model_dir, tmp_path / "run"))
    listed = push_to_hub(folder, REPO_ID, dry_run=True, api=RecordingApi())
    assert {"config.json", "model.safetensors", "results.json", "README.md"} <= set(listed)
    assert not [name for name in listed if name.startswith(("checkpoints/", "logs/"))]
    results = RunResults.load(folder)
    metadata = metadata_load(folder / "README.md")
    entries = metadata["model-index"][0]["results"]
    splits = [(results.headline_split, results.headline_metrics)]
    if results.test_metrics:
        splits.append((results.eval_split, results.metrics))
    assert [(entry["dataset"]["split"], entry["dataset"]["config"]) for entry in entries] == [
        (split, f"PAN-X.{lang}") for split, scores in splits for lang in scores
    ]
    assert all("Swiss mix" in entry["dataset"]["name"] for entry in entries)
    assert all(isinstance(example["output"], list) for example in metadata["widget"])
    capsys.readouterr()
