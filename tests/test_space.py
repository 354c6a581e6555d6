"""The Space: its files, a push to a recording stand-in for HfApi, and its app.py running."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
from fakes import RecordingApi
from huggingface_hub import SpaceCard
from packaging.requirements import Requirement

import swiss_ner.space as space
from swiss_ner.commands.push import print_space_plan
from swiss_ner.hub import HubPushError, TransportHTTPError
from swiss_ner.space import push_space, space_files, write_space
from swiss_ner.widget import WIDGET_EXAMPLES

# huggingface_hub's HTTP library (httpx2 for 2.x, httpx for 1.x), as swiss_ner.hub resolved it.
transport = importlib.import_module(TransportHTTPError.__module__.split(".")[0])
gradio = pytest.importorskip(
    "gradio", reason="the Space pins the installed gradio: pip install 'swiss-ner[demo]'"
)

SPACE_ID = "swiss-org/xlmr-panx-ch-demo"
MODEL_ID = "swiss-org/xlmr-panx-ch"
EXAMPLES = list(WIDGET_EXAMPLES.values())


def test_readme_configures_a_gradio_space_of_the_model():
    card = SpaceCard(space_files(MODEL_ID, EXAMPLES, "Swiss NER")["README.md"])
    assert card.data.title == "Swiss NER"
    assert card.data.sdk == "gradio"
    assert card.data.sdk_version == gradio.__version__
    assert card.data.app_file == "app.py"
    assert card.data.models == [MODEL_ID]
    assert card.data.colorFrom and card.data.colorTo and card.data.emoji
    assert len(card.data.short_description) <= 60
    assert f'model="{MODEL_ID}"' in card.text


def test_app_names_the_model_and_examples():
    app = space_files(MODEL_ID, EXAMPLES)["app.py"]
    assert f"MODEL_ID = {MODEL_ID!r}" in app
    for example in EXAMPLES:
        assert repr(example) in app


def test_requirements_are_valid_and_leave_gradio_to_sdk_version():
    lines = space_files(MODEL_ID, EXAMPLES)["requirements.txt"].splitlines()
    names = {Requirement(line).name for line in lines if line and not line.startswith("#")}
    assert {"torch", "transformers"} <= names
    assert "gradio" not in names


def test_write_space_writes_every_file(tmp_path):
    paths = write_space(tmp_path / "space", MODEL_ID, EXAMPLES)
    files = space_files(MODEL_ID, EXAMPLES)
    assert {path.name: path.read_text() for path in paths} == files


def test_push_creates_the_space_and_uploads_its_files():
    api = RecordingApi()
    url = push_space(SPACE_ID, MODEL_ID, EXAMPLES, token="hf_test", api=api)
    assert url == f"https://huggingface.co/spaces/{SPACE_ID}/commit/abc123"
    assert [name for name, _ in api.calls] == ["create_repo", "upload_folder"]
    create, upload = (kwargs for _, kwargs in api.calls)
    assert create["repo_id"] == SPACE_ID
    assert create["repo_type"] == "space"
    assert create["space_sdk"] == "gradio"
    assert create["exist_ok"] is True
    assert upload["repo_id"] == SPACE_ID
    assert upload["repo_type"] == "space"
    assert api.uploaded == space_files(MODEL_ID, EXAMPLES)


def test_dry_run_lists_the_files_and_pushes_nothing(monkeypatch, capsys):
    monkeypatch.setattr(space, "get_token", lambda: None)
    api = RecordingApi()
    listed = push_space(SPACE_ID, MODEL_ID, EXAMPLES, dry_run=True, api=api)
    assert capsys.readouterr().out == "", "the library returns the plan; the command prints it"
    print_space_plan(SPACE_ID, space_files(MODEL_ID, EXAMPLES), token=None)
    out = capsys.readouterr().out
    assert api.calls == []
    assert listed == ["app.py", "requirements.txt", "README.md"]
    assert f"https://huggingface.co/spaces/{SPACE_ID}" in out
    assert all(name in out for name in listed)
    assert "No Hugging Face token found" in out


def test_no_token_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(space, "get_token", lambda: None)
    api = RecordingApi()
    with pytest.raises(HubPushError, match="no Hugging Face token") as caught:
        push_space(SPACE_ID, MODEL_ID, EXAMPLES, api=api)
    assert "hf auth login" in str(caught.value)
    assert api.calls == []


def test_unreachable_hub_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("swiss_ner.hub.is_offline_mode", lambda: False)
    api = RecordingApi(error=transport.ConnectError("Name or service not known"))
    with pytest.raises(HubPushError, match="could not be reached") as caught:
        push_space(SPACE_ID, MODEL_ID, EXAMPLES, token="t", api=api)
    assert f"https://huggingface.co/spaces/{SPACE_ID}" in str(caught.value)
    assert isinstance(caught.value.__cause__, transport.ConnectError)


def test_a_local_folder_is_not_a_space_model(tmp_path):
    with pytest.raises(HubPushError, match="is not a Hub id"):
        push_space(SPACE_ID, str(tmp_path / "model"), EXAMPLES, token="t", api=RecordingApi())


def test_the_space_app_runs_and_predicts_like_the_pipeline(trained_model_dir, tmp_path):
    """app.py, imported without swiss_ner in a clean process, the tiny model's folder its model."""
    from transformers import pipeline

    ner = pipeline(
        "token-classification", model=str(trained_model_dir), aggregation_strategy="simple"
    )
    sentence, expected = next(((s, ner(s)) for s in EXAMPLES if ner(s)), (None, []))
    assert sentence, "the tiny model finds no entity in any example"
    folder = tmp_path / "space"
    write_space(folder, str(trained_model_dir), EXAMPLES)
    script = (  # the Space has no swiss_ner: block it
        "import json, sys; sys.modules['swiss_ner'] = None; sys.path.insert(0, sys.argv[1]); "
        "import app; "
        "assert type(app.demo).__name__ == 'Blocks'; "
        "print(json.dumps(app.predict(sys.argv[2]), default=float))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder), sentence],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["text"] == sentence
    assert [(e["entity_group"], e["start"], e["end"]) for e in shown["entities"]] == [
        (e["entity_group"], e["start"], e["end"]) for e in expected
    ]


def test_without_gradio_the_space_says_how_to_install_it(monkeypatch):
    def not_installed(name):
        raise space.PackageNotFoundError(name)

    monkeypatch.setattr(space, "version", not_installed)
    with pytest.raises(HubPushError, match=r"pip install 'swiss-ner\[demo\]'"):
        space_files(MODEL_ID, EXAMPLES)
