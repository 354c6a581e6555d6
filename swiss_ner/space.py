"""A Hugging Face Space that demonstrates a published model, and pushing it.

A model page shows a live widget only when an Inference Provider serves the model; a Gradio
Space gives every published model a working demo. Its app.py is :mod:`swiss_ner.demo` itself
(which imports only gradio and transformers) followed by the model id and examples, so the
Space and ``swiss-ner demo`` show the same page. The Space installs the gradio version named by
``sdk_version`` in its README.md: the one installed here, with which the demo was tested.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from huggingface_hub import HfApi, SpaceCardData, get_token
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from swiss_ner.hub import (
    HUB_URL,
    LOGIN_HELP,
    HubPushError,
    TransportHTTPError,
    describe_failure,
)

DEMO_SOURCE = Path(__file__).with_name("demo.py")
DEFAULT_TITLE = "Swiss NER demo"
SPACE_EMOJI = "🔍"
REQUIREMENTS = """\
# gradio itself comes from sdk_version in README.md
torch>=2.1
transformers>=5.0,<6
sentencepiece>=0.2
"""
APP_FOOTER = """

# ----- The Space: the model and its examples -----
MODEL_ID = {model_id!r}
EXAMPLES = {examples!r}

predict = entity_highlighter(MODEL_ID)
demo = build_page(predict, EXAMPLES, title={title!r})

if __name__ == "__main__":
    demo.launch()
"""
SPACE_BODY = """
# {title}

Highlights people (PER), organisations (ORG) and locations (LOC) in German, French, Italian and
English text with [{model_id}]({hub_url}/{model_id}), through the stock `transformers` pipeline:

```python
from transformers import pipeline

ner = pipeline("token-classification", model="{model_id}", aggregation_strategy="simple")
```
"""


def installed_gradio_version() -> str:
    """The gradio version here, which the Space's ``sdk_version`` pins."""
    try:
        return version("gradio")
    except PackageNotFoundError as error:
        raise HubPushError(
            "The Space's gradio version is the one the demo was tested with here, and gradio "
            "is not installed: pip install 'swiss-ner[demo]'"
        ) from error


def space_readme(model_repo_id: str, title: str) -> str:
    """README.md: the Space's YAML configuration and a short description."""
    card_data = SpaceCardData(
        title=title,
        sdk="gradio",
        sdk_version=installed_gradio_version(),
        python_version="3.11",
        app_file="app.py",
        license="apache-2.0",
        models=[model_repo_id],
        tags=["token-classification", "ner"],
        emoji=SPACE_EMOJI,
        colorFrom="red",
        colorTo="gray",
        pinned=False,
        short_description="People, organisations and places in Swiss text",
    )
    body = SPACE_BODY.format(title=title, model_id=model_repo_id, hub_url=HUB_URL)
    return f"---\n{card_data.to_yaml()}\n---\n{body}"


def space_files(
    model_repo_id: str, examples: list[str], title: str = DEFAULT_TITLE
) -> dict[str, str]:
    """``{path: text}`` of the Space: app.py, requirements.txt and README.md."""
    app = DEMO_SOURCE.read_text(encoding="utf-8") + APP_FOOTER.format(
        model_id=model_repo_id, examples=list(examples), title=title
    )
    return {
        "app.py": app,
        "requirements.txt": REQUIREMENTS,
        "README.md": space_readme(model_repo_id, title),
    }


def write_space(
    folder: str | Path, model_repo_id: str, examples: list[str], title: str = DEFAULT_TITLE
) -> list[Path]:
    """Write the Space's files into ``folder`` (created if needed); returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in space_files(model_repo_id, examples, title).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def _space_error(space_id: str, reason: str) -> HubPushError:
    return HubPushError(
        f"Could not push the Space {HUB_URL}/spaces/{space_id}: {reason} "
        "Once fixed, push it again (the model repository is not touched)."
    )


def push_space(
    space_id: str,
    model_repo_id: str,
    examples: list[str],
    token: str | None = None,
    dry_run: bool = False,
    api: HfApi | None = None,
    title: str = DEFAULT_TITLE,
) -> str | list[str]:
    """Create (if needed) the Gradio Space ``space_id`` demonstrating ``model_repo_id``, upload it.

    The model repository must be public for the Space to load it. Returns the commit URL, or the
    file names for a dry run (which pushes nothing). Raises
    :class:`~swiss_ner.hub.HubPushError` with a how-to-fix message on any failure.
    """
    for repo_id in (space_id, model_repo_id):
        try:
            validate_repo_id(repo_id)
        except HFValidationError as error:
            raise _space_error(space_id, f"{repo_id!r} is not a Hub id ({error}).") from error
    files = space_files(model_repo_id, examples, title)
    token = token or get_token()
    if dry_run:
        return list(files)
    if token is None:
        raise _space_error(space_id, f"no Hugging Face token found. {LOGIN_HELP}")
    api = api or HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="swiss-ner-space-") as folder:
        write_space(folder, model_repo_id, examples, title)
        try:
            api.create_repo(
                space_id, token=token, repo_type="space", space_sdk="gradio", exist_ok=True
            )
            commit = api.upload_folder(
                repo_id=space_id,
                folder_path=folder,
                repo_type="space",
                token=token,
                commit_message=f"Demo of {model_repo_id}",
            )
        except (OSError, TransportHTTPError) as error:
            raise _space_error(space_id, describe_failure(error)) from error
    return str(getattr(commit, "commit_url", commit))
