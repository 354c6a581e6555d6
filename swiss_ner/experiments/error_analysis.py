"""Error analysis of a trained tagger: where is the loss, which labels are confused, and which
gold tags look wrong?

Only the first sub-word of each word carries a label (``label_all_tokens=False``), so every
number here is per word, as seqeval scores it. Per-token losses are the unreduced cross-entropy;
positions without a label (-100: special tokens, continuation pieces, padding) are NaN and never
counted. The label set is the model's own (``config.id2label``), so any IOB2 tag set works.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from swiss_ner.config import AnalyseConfig
from swiss_ner.constants import IGNORE_INDEX
from swiss_ner.evaluation import GatheredBatch, gathered_predictions
from swiss_ner.experiments.plots import plot_confusion_matrix, plot_loss_by_label
from swiss_ner.experiments.tables import markdown_table

if TYPE_CHECKING:
    from datasets import Dataset

logger = logging.getLogger(__name__)

WORD_COLUMNS: tuple[str, ...] = (
    "row", "position", "word", "token", "gold", "pred", "loss", "confidence", "gold_prob"
)


def token_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy per position, shape ``labels.shape``; NaN where the label is -100."""
    losses = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        labels.reshape(-1),
        reduction="none",
        ignore_index=IGNORE_INDEX,
    ).view(labels.shape)
    return torch.where(labels == IGNORE_INDEX, torch.full_like(losses, float("nan")), losses)


def _collate(tokenizer):
    """Pad the model inputs; the ``row`` index rides along, one number per sentence."""
    from transformers import DataCollatorForTokenClassification

    pad = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)

    def collate(features: list[dict]) -> dict:
        rows = torch.tensor([feature["row"] for feature in features])
        batch = pad([{k: v for k, v in feature.items() if k != "row"} for feature in features])
        batch["row"] = rows
        return batch

    return collate


def model_label_names(model) -> list[str]:
    """The model's tag set in id order, from ``config.id2label``."""
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    return [id2label[i] for i in range(len(id2label))]


def word_rows(batch: GatheredBatch, tokenizer, label_names: Sequence[str],
              words_by_row: Sequence[Sequence[str]]) -> pd.DataFrame:
    """The labelled words of one gathered batch, one row each, in :data:`WORD_COLUMNS`."""
    labels = batch.labels
    scored = labels != IGNORE_INDEX
    probs = batch.logits.float().softmax(dim=-1)
    confidence, pred = probs.max(dim=-1)
    gold_prob = probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    sentence, _ = scored.nonzero(as_tuple=True)
    rows = batch.extra["row"][sentence].tolist()
    positions = (scored.cumsum(dim=1) - 1)[scored].tolist()
    names = np.asarray(label_names, dtype=object)
    return pd.DataFrame({
        "row": rows,
        "position": positions,
        "word": [words_by_row[row][position] for row, position in zip(rows, positions,
                                                                        strict=True)],
        "token": tokenizer.convert_ids_to_tokens(batch.input_ids[scored].tolist()),
        "gold": names[labels[scored].numpy()],
        "pred": names[pred[scored].numpy()],
        "loss": token_losses(batch.logits, labels)[scored].numpy(),
        "confidence": confidence[scored].numpy(),
        "gold_prob": gold_prob[scored].numpy(),
    }, columns=list(WORD_COLUMNS))


def predict_tokens(
    model,
    tokenizer,
    dataset,
    batch_size: int = 32,
    max_length: int = 512,
    accelerator=None,
) -> pd.DataFrame:
    """One row per labelled word: sentence ``row``, ``position``, ``word``, first-piece ``token``,
    ``gold``, ``pred``, ``loss``, ``confidence`` (probability of the prediction) and ``gold_prob``.

    ``dataset`` has PAN-X columns (``tokens``, ``ner_tags``) with the model's labels. Runs under
    ``accelerate``: predictions come from :func:`swiss_ner.evaluation.gathered_predictions`,
    gathered across processes without duplicated sentences.
    """
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from swiss_ner.data import tokenize_and_align

    accelerator = accelerator or Accelerator()
    label_names = model_label_names(model)
    encoded = tokenize_and_align(dataset, tokenizer, max_length=max_length, label_all_tokens=False)
    encoded = encoded.remove_columns("cut_entities")
    encoded = encoded.add_column("row", list(range(encoded.num_rows)))
    loader = DataLoader(
        encoded, batch_size=batch_size, shuffle=False, collate_fn=_collate(tokenizer)
    )
    model, loader = accelerator.prepare(model, loader)
    words_by_row = list(dataset["tokens"])
    frames = [
        word_rows(batch, tokenizer, label_names, words_by_row)
        for batch in gathered_predictions(model, loader, accelerator, "analyse", extra=("row",))
    ]
    if not frames:
        return pd.DataFrame(columns=list(WORD_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def sequence_losses(tokens: pd.DataFrame) -> pd.DataFrame:
    """Per sentence: number of labelled words, total and mean loss, sorted by total loss
    (descending) — long sentences with several errors rank above a single confusing word."""
    per_sentence = tokens.groupby("row")["loss"].agg(words="count", total_loss="sum",
                                                    mean_loss="mean")
    return per_sentence.sort_values("total_loss", ascending=False)


def highest_loss_sequences(tokens: pd.DataFrame, top_k: int = 5) -> list[pd.DataFrame]:
    """The ``top_k`` sentences with the highest total loss, each as a word-by-word table."""
    order = sequence_losses(tokens).head(top_k).index
    return [
        tokens[tokens["row"] == row][["word", "token", "gold", "pred", "loss"]]
        .reset_index(drop=True)
        for row in order
    ]


def loss_by_token(tokens: pd.DataFrame, min_count: int = 5, top_k: int = 10) -> pd.DataFrame:
    """Loss aggregated by first-piece sub-word token (count, mean, sum); the ``top_k`` largest
    sums among tokens seen at least ``min_count`` times."""
    table = tokens.groupby("token")["loss"].agg(["count", "mean", "sum"])
    table = table[table["count"] >= min_count]
    return table.sort_values("sum", ascending=False).head(top_k)


def loss_by_label(tokens: pd.DataFrame) -> pd.DataFrame:
    """Loss aggregated by gold label (count, mean, sum), the hardest labels (mean) first."""
    table = tokens.groupby("gold")["loss"].agg(["count", "mean", "sum"])
    table.index.name = "gold"
    return table.sort_values("mean", ascending=False)


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> np.ndarray:
    """Row-normalised confusion matrix: rows gold, columns predicted, each row summing to 1
    (a label that never occurs as gold keeps a row of zeros)."""
    index = {label: i for i, label in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=float)
    np.add.at(counts, ([index[g] for g in gold], [index[p] for p in pred]), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def suspected_label_errors(
    tokens: pd.DataFrame,
    words_by_row: Sequence[Sequence[str]],
    threshold: float = 0.9,
    top_k: int = 10,
) -> pd.DataFrame:
    """Sentences where the model gives a label other than the gold one a probability of at least
    ``threshold``: likely annotation errors (or confident model errors) to inspect by hand.

    One row per disagreement, sentences ordered by their most confident disagreement.
    """
    confident = tokens[(tokens["pred"] != tokens["gold"]) & (tokens["confidence"] >= threshold)]
    if confident.empty:
        return pd.DataFrame(
            columns=["row", "sentence", "word", "gold", "pred", "confidence", "gold_prob"]
        )
    strongest = confident.groupby("row")["confidence"].max().sort_values(ascending=False)
    rows = strongest.head(top_k).index
    picked = confident[confident["row"].isin(rows)].copy()
    picked["order"] = picked["row"].map({row: i for i, row in enumerate(rows)})
    picked["sentence"] = picked["row"].map(lambda row: " ".join(words_by_row[row]))
    picked = picked.sort_values(["order", "position"])
    return picked[["row", "sentence", "word", "gold", "pred", "confidence", "gold_prob"]]


@dataclass
class ErrorAnalysis:
    """The tables of one analysis and the files they were written to."""

    tokens: pd.DataFrame
    sequences: list[pd.DataFrame]
    sequence_scores: pd.DataFrame
    by_token: pd.DataFrame
    by_label: pd.DataFrame
    confusion: pd.DataFrame
    suspects: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)


def analyse(
    tokens: pd.DataFrame,
    labels: Sequence[str],
    words_by_row: Sequence[Sequence[str]],
    top_k: int = 5,
    min_count: int = 5,
    threshold: float = 0.9,
) -> ErrorAnalysis:
    """All tables from the per-word predictions of :func:`predict_tokens`."""
    matrix = confusion_matrix(tokens["gold"].tolist(), tokens["pred"].tolist(), labels)
    confusion = pd.DataFrame(matrix, index=pd.Index(labels, name="gold"), columns=list(labels))
    scores = sequence_losses(tokens)
    return ErrorAnalysis(
        tokens=tokens,
        sequences=highest_loss_sequences(tokens, top_k),
        sequence_scores=scores.head(top_k),
        by_token=loss_by_token(tokens, min_count=min_count, top_k=10),
        by_label=loss_by_label(tokens),
        confusion=confusion,
        suspects=suspected_label_errors(tokens, words_by_row, threshold, top_k),
    )


def render_markdown(result: ErrorAnalysis, title: str, threshold: float, min_count: int) -> str:
    """The whole analysis as one Markdown document."""
    lines = [f"# Error analysis: {title}", ""]
    tokens = result.tokens
    accuracy = float((tokens["gold"] == tokens["pred"]).mean()) if len(tokens) else float("nan")
    lines += [
        f"{tokens['row'].nunique()} sentences, {len(tokens)} labelled words (first sub-word "
        f"of each word), word accuracy {accuracy:.3f}, mean loss {tokens['loss'].mean():.3f}.",
        "",
        "## Sentences with the highest total loss",
        "",
        "Ranked by the sum of the per-word cross-entropy (mean shown too).",
        "",
    ]
    for (row, score), table in zip(
        result.sequence_scores.iterrows(), result.sequences, strict=True
    ):
        lines += [
            f"### Sentence {row}: total loss {score['total_loss']:.3f}, "
            f"mean {score['mean_loss']:.3f}",
            "",
            markdown_table(table, index=False),
            "",
        ]
    lines += [
        f"## Loss by sub-word token (top 10 by total, seen at least {min_count} times)",
        "",
        markdown_table(result.by_token) if len(result.by_token) else "(no token that frequent)",
        "",
        "## Loss by gold label",
        "",
        markdown_table(result.by_label),
        "",
    ]
    if "loss_by_label" in result.paths:
        lines += [f"![Loss by label]({result.paths['loss_by_label'].name})", ""]
    lines += [
        "## Confusion matrix (rows: gold, normalised to 1; columns: predicted)",
        "",
        markdown_table(result.confusion, float_format="{:.2f}"),
        "",
    ]
    if "confusion_png" in result.paths:
        lines += [f"![Confusion matrix]({result.paths['confusion_png'].name})", ""]
    lines += [
        f"## Likely annotation errors (model gives another label probability >= {threshold})",
        "",
    ]
    if result.suspects.empty:
        lines += ["None found.", ""]
    for row, group in result.suspects.groupby("row", sort=False):
        lines += [
            f"- Sentence {row}: {group['sentence'].iloc[0]}",
            "",
            markdown_table(group[["word", "gold", "pred", "confidence", "gold_prob"]],
                           index=False),
            "",
        ]
    return "\n".join(lines)


def _renumbered(dataset: Dataset, data_names: Sequence[str], label_names: Sequence[str]) -> Dataset:
    """The tags re-numbered by name into ``label_names`` (``Dataset.align_labels_with_mapping``
    fails on sequence columns in datasets 5.2)."""
    from swiss_ner.data import panx_features

    new_id = [list(label_names).index(name) for name in data_names]

    def renumber(batch: dict) -> dict:
        return {"ner_tags": [[new_id[tag] for tag in tags] for tags in batch["ner_tags"]]}

    return dataset.map(renumber, batched=True, features=panx_features(label_names))


def load_analysis_split(config: AnalyseConfig, label_names: Sequence[str]) -> Dataset:
    """The split to analyse with the model's label ids; Hub data keeps PAN-X's label order, so
    its tags are re-numbered by name."""
    from swiss_ner.data import load_panx

    splits = load_panx(config.lang, config.data_dir, label_names=label_names,
                       tag_scheme=config.tag_scheme, tag_column=config.tag_column)
    if config.split not in splits:
        raise ValueError(
            f"no {config.split!r} split for {config.lang!r} (found {', '.join(splits)}); "
            "choose one with --split"
        )
    dataset = splits[config.split]
    data_names = dataset.features["ner_tags"].feature.names
    if list(data_names) != list(label_names):
        unknown = sorted(set(data_names) - set(label_names))
        if unknown:
            raise ValueError(f"the data has tags {unknown} that the model does not know")
        dataset = _renumbered(dataset, data_names, label_names)
    if config.max_samples is not None:
        dataset = dataset.select(range(min(config.max_samples, dataset.num_rows)))
    return dataset


def write_outputs(result: ErrorAnalysis, out: Path, title: str, config: AnalyseConfig) -> None:
    """CSV tables, the two figures and ``error_analysis.md`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    tokens, paths = result.tokens, result.paths
    paths["tokens_csv"] = out / "token_predictions.csv"
    tokens.to_csv(paths["tokens_csv"], index=False)
    paths["sequences_csv"] = out / "highest_loss_sequences.csv"
    tokens[tokens["row"].isin(result.sequence_scores.index)].merge(
        result.sequence_scores, left_on="row", right_index=True
    ).sort_values(["total_loss", "row", "position"], ascending=[False, True, True]).to_csv(
        paths["sequences_csv"], index=False
    )
    paths["by_token_csv"] = out / "loss_by_token.csv"
    result.by_token.to_csv(paths["by_token_csv"])
    paths["by_label_csv"] = out / "loss_by_label.csv"
    result.by_label.to_csv(paths["by_label_csv"])
    paths["confusion_csv"] = out / "confusion_matrix.csv"
    result.confusion.to_csv(paths["confusion_csv"], float_format="%.4f")
    paths["suspects_csv"] = out / "suspected_label_errors.csv"
    result.suspects.to_csv(paths["suspects_csv"], index=False)
    where = f"{config.lang} {config.split}"
    paths["confusion_png"] = plot_confusion_matrix(
        result.confusion.to_numpy(), list(result.confusion.columns),
        out / "confusion_matrix.png", title=f"Confusion matrix, {where}",
    )
    paths["loss_by_label"] = plot_loss_by_label(
        result.by_label, out / "loss_by_label.png", title=f"Loss by gold label, {where}"
    )
    paths["markdown"] = out / "error_analysis.md"
    paths["markdown"].write_text(
        render_markdown(result, title, config.threshold, config.min_count), encoding="utf-8"
    )


def run_error_analysis(config: AnalyseConfig) -> ErrorAnalysis:
    """Predict ``config.split`` of ``config.lang`` with the model in ``config.model_dir`` and
    write ``error_analysis.md``, CSV tables and PNG figures to ``config.output_dir``
    (default ``model_dir/error_analysis``)."""
    from accelerate import Accelerator
    from transformers import AutoModelForTokenClassification

    from swiss_ner.modeling import load_tokenizer

    config.validate()
    accelerator = Accelerator()
    tokenizer = load_tokenizer(config.model_dir)
    model = AutoModelForTokenClassification.from_pretrained(config.model_dir)
    labels = model_label_names(model)
    dataset = load_analysis_split(config, labels)
    tokens = predict_tokens(model, tokenizer, dataset, config.batch_size, config.max_length,
                            accelerator)
    result = analyse(tokens, labels, list(dataset["tokens"]), config.top_k, config.min_count,
                     config.threshold)
    if accelerator.is_main_process:
        source = Path(config.data_dir).name if config.data_dir else "PAN-X (google/xtreme)"
        title = f"{Path(config.model_dir).name} on {source} {config.lang} {config.split}"
        out = Path(config.output_dir or Path(config.model_dir) / "error_analysis")
        write_outputs(result, out, title, config)
    return result
