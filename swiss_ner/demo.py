"""A Gradio page that highlights the PER, ORG and LOC entities a token-classification model finds.

It runs the stock ``transformers`` pipeline with ``aggregation_strategy="simple"`` (what users
get from ``pipeline("ner", ...)``) and shows its entity groups as labelled spans. ``swiss-ner
demo`` serves it locally; the model's Hugging Face Space runs this same file as its app.py, so
it imports nothing but gradio, transformers and huggingface_hub.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from huggingface_hub import ModelCard
from transformers import pipeline

DEMO_INSTALL_HELP = "the demo needs gradio: pip install 'swiss-ner[demo]'"

try:
    import gradio as gr
except ImportError as error:  # gradio is the optional `demo` extra
    raise ImportError(DEMO_INSTALL_HELP) from error

ENTITY_COLORS = {"PER": "#ef4444", "ORG": "#3b82f6", "LOC": "#16a34a"}
DEFAULT_TITLE = "Swiss NER: people, organisations and places"
DESCRIPTION = (
    "Type German, French, Italian or English text, or pick an example: the model marks "
    "people (PER), organisations (ORG) and locations (LOC)."
)


def entity_highlighter(model: str) -> Callable[[str], dict]:
    """``text -> {"text", "entities"}``, the value ``gr.HighlightedText`` shows as spans.

    ``model`` is a local folder or a Hub model id; the entities are the pipeline's own groups.
    """
    ner = pipeline("token-classification", model=model, aggregation_strategy="simple")

    def predict(text: str) -> dict:
        return {"text": text, "entities": ner(text) if text.strip() else []}

    return predict


def build_page(
    predict: Callable[[str], dict], examples: Sequence[str], title: str = DEFAULT_TITLE
) -> gr.Blocks:
    """The page: a text box, a button, the highlighted entities and clickable examples."""
    with gr.Blocks(title=title) as page:
        gr.Markdown(f"# {title}\n{DESCRIPTION}")
        text = gr.Textbox(label="Text", lines=3, placeholder="Angela Merkel besuchte Zürich.")
        button = gr.Button("Find entities", variant="primary")
        entities = gr.HighlightedText(label="Entities", color_map=ENTITY_COLORS, elem_id="entities")
        gr.Examples(
            examples=[[example] for example in examples],
            inputs=text,
            outputs=entities,
            fn=predict,
            run_on_click=True,
            cache_examples=False,
        )
        button.click(predict, inputs=text, outputs=entities)
    return page


def build_demo(model: str, examples: Sequence[str]) -> gr.Blocks:
    """The demo page of ``model`` (a local folder or a Hub model id)."""
    return build_page(entity_highlighter(model), examples)


def launch_demo(
    model: str, examples: Sequence[str] = (), host: str = "127.0.0.1", port: int = 7860
) -> None:
    """Serve the demo at ``http://host:port`` until interrupted, without Gradio's analytics."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    build_demo(str(model), examples).launch(server_name=host, server_port=port)


def card_examples(model: str) -> list[str]:
    """The widget sentences of the model's card (README.md), offered as the demo's examples.

    Empty when the model has no card or its card no widget: the demo works without examples.
    """
    local_card = Path(model, "README.md")
    try:
        card = ModelCard.load(local_card if local_card.is_file() else model)
    except (OSError, ValueError):
        return []
    return [entry["text"] for entry in card.data.widget or [] if "text" in entry]
