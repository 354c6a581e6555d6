"""Error analysis of a trained tagger: where is the loss, which labels are confused, and which
gold tags look wrong?

Only the first sub-word of each word carries a label (``label_all_tokens=False``), so every
number here is per word, as seqeval scores it. Per-token losses are the unreduced cross-entropy;
positions without a label (-100: special tokens, continuation pieces, padding) are NaN and never
counted.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from swiss_ner.experiments.plots import plot_confusion_matrix, plot_loss_by_label
from swiss_ner.experiments.tables import markdown_table

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


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
    from transformers import DataCollatorForTokenClassification

    pad = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE_INDEX)

    def collate(features: list[dict]) -> dict:
        rows = torch.tensor([feature["row"] for feature in features])
        batch = pad([{k: v for k, v in feature.items() if k != "row"} for feature in features])
        batch["row"] = rows
        return batch

    return collate


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

    ``dataset`` has PAN-X columns (``tokens``, ``ner_tags``); labels come from
    ``model.config.id2label``. Runs under ``accelerate``; across processes the results are padded
    and gathered with ``gather_for_metrics`` (which drops the duplicated tail samples).
    """
    from accelerate import Accelerator
    from torch.utils.data import DataLoader

    from swiss_ner.data import tokenize_and_align

    accelerator = accelerator or Accelerator()
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    encoded = tokenize_and_align(dataset, tokenizer, max_length=max_length, label_all_tokens=False)
    encoded = encoded.add_column("row", list(range(encoded.num_rows)))
    loader = DataLoader(
        encoded, batch_size=batch_size, shuffle=False, collate_fn=_collate(tokenizer)
    )
    model, loader = accelerator.prepare(model, loader)
    model.eval()

    gathered: dict[str, list[np.ndarray]] = {
        "row": [], "labels": [], "loss": [], "pred": [], "confidence": [], "gold_prob": []
    }
    for batch in loader:
        with torch.no_grad():
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
        labels = batch["labels"]
        probs = logits.float().softmax(dim=-1)
        confidence, pred = probs.max(dim=-1)
        gold_prob = probs.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        per_position = {
            "labels": labels,
            "loss": token_losses(logits, labels),
            "pred": pred,
            "confidence": confidence,
            "gold_prob": gold_prob,
        }
        per_position = {
            name: accelerator.pad_across_processes(
                tensor, dim=1, pad_index=IGNORE_INDEX if name == "labels" else 0
            )
            for name, tensor in per_position.items()
        }
        per_position["row"] = batch["row"]
        for name, tensor in accelerator.gather_for_metrics(per_position).items():
            gathered[name].append(tensor.cpu().numpy())

    records = []
    names = [id2label[i] for i in range(len(id2label))]
    words_by_row = list(dataset["tokens"])
    input_ids_by_row = list(encoded["input_ids"])
    for batch_index in range(len(gathered["row"])):
        for i, row in enumerate(gathered["row"][batch_index]):
            labels = gathered["labels"][batch_index][i]
            positions = np.flatnonzero(labels != IGNORE_INDEX)
            pieces = tokenizer.convert_ids_to_tokens(input_ids_by_row[int(row)])
            words = words_by_row[int(row)]
            for word_index, position in enumerate(positions):
                records.append(
                    {
                        "row": int(row),
                        "position": word_index,
                        "word": words[word_index],
                        "token": pieces[position],
                        "gold": names[int(labels[position])],
                        "pred": names[int(gathered["pred"][batch_index][i][position])],
                        "loss": float(gathered["loss"][batch_index][i][position]),
                        "confidence": float(gathered["confidence"][batch_index][i][position]),
                        "gold_prob": float(gathered["gold_prob"][batch_index][i][position]),
                    }
                )
    return pd.DataFrame.from_records(
        records,
        columns=["row", "position", "word", "token", "gold", "pred", "loss", "confidence",
                 "gold_prob"],
    )


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


def run_error_analysis(
    model_dir: str | Path,
    data_dir: str | Path | None = None,
    lang: str = "de",
    split: str = "validation",
    max_samples: int | None = None,
    output_dir: str | Path | None = None,
    batch_size: int = 32,
    top_k: int = 5,
    min_count: int = 5,
    threshold: float = 0.9,
    max_length: int = 512,
) -> ErrorAnalysis:
    """Predict ``split`` of PAN-X ``lang`` with the model in ``model_dir`` and write
    ``error_analysis.md``, CSV tables and PNG figures to ``output_dir``
    (default ``model_dir/error_analysis``)."""
    from accelerate import Accelerator
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from swiss_ner.data import load_panx

    accelerator = Accelerator()
    model = AutoModelForTokenClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    dataset = load_panx(lang, data_dir)[split]
    if max_samples is not None:
        dataset = dataset.select(range(min(max_samples, dataset.num_rows)))
    tokens = predict_tokens(model, tokenizer, dataset, batch_size, max_length, accelerator)
    labels = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    result = analyse(tokens, labels, list(dataset["tokens"]), top_k, min_count, threshold)
    if not accelerator.is_main_process:
        return result

    out = Path(output_dir) if output_dir is not None else Path(model_dir) / "error_analysis"
    out.mkdir(parents=True, exist_ok=True)
    result.paths["tokens_csv"] = out / "token_predictions.csv"
    tokens.to_csv(result.paths["tokens_csv"], index=False)
    result.paths["sequences_csv"] = out / "highest_loss_sequences.csv"
    tokens[tokens["row"].isin(result.sequence_scores.index)].merge(
        result.sequence_scores, left_on="row", right_index=True
    ).sort_values(["total_loss", "row", "position"], ascending=[False, True, True]).to_csv(
        result.paths["sequences_csv"], index=False
    )
    result.paths["by_token_csv"] = out / "loss_by_token.csv"
    result.by_token.to_csv(result.paths["by_token_csv"])
    result.paths["by_label_csv"] = out / "loss_by_label.csv"
    result.by_label.to_csv(result.paths["by_label_csv"])
    result.paths["confusion_csv"] = out / "confusion_matrix.csv"
    result.confusion.to_csv(result.paths["confusion_csv"], float_format="%.4f")
    result.paths["suspects_csv"] = out / "suspected_label_errors.csv"
    result.suspects.to_csv(result.paths["suspects_csv"], index=False)
    title = f"{Path(model_dir).name} on PAN-X {lang} {split}"
    result.paths["confusion_png"] = plot_confusion_matrix(
        result.confusion.to_numpy(), labels, out / "confusion_matrix.png",
        title=f"Confusion matrix, {lang} {split}",
    )
    result.paths["loss_by_label"] = plot_loss_by_label(
        result.by_label, out / "loss_by_label.png", title=f"Loss by gold label, {lang} {split}"
    )
    result.paths["markdown"] = out / "error_analysis.md"
    result.paths["markdown"].write_text(render_markdown(result, title, threshold, min_count))
    return result


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Error analysis of a trained tagger: highest-loss sentences, loss by token "
        "and label, the confusion matrix, and likely annotation errors.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("model_dir", help="Folder of a trained model (config, weights, tokenizer).")
    parser.add_argument("--data-dir", default=None,
                        help="Folder of {split}-{lang}.tsv files; omit to load google/xtreme.")
    parser.add_argument("--lang", default="de", help="PAN-X language to analyse.")
    parser.add_argument("--split", default="validation", help="Split to analyse.")
    parser.add_argument("--max-samples", type=int, default=None,
                        help="Analyse only the first N sentences.")
    parser.add_argument("--output-dir", default=None,
                        help="Where to write the report (default MODEL_DIR/error_analysis).")
    parser.add_argument("--batch-size", type=int, default=32, help="Sentences per batch.")
    parser.add_argument("--top-k", type=int, default=5,
                        help="Highest-loss sentences and suspected label errors to list.")
    parser.add_argument("--min-count", type=int, default=5,
                        help="Occurrences a token needs to enter the loss-by-token table.")
    parser.add_argument("--threshold", type=float, default=0.9,
                        help="Probability of a non-gold label that flags a likely annotation "
                        "error.")
    parser.add_argument("--max-length", type=int, default=512,
                        help="Truncate sentences to this many sub-word tokens.")
    return parser


def main(argv: Sequence[str] | None = None) -> ErrorAnalysis:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    args = build_arg_parser().parse_args(argv)
    result = run_error_analysis(
        args.model_dir,
        data_dir=args.data_dir,
        lang=args.lang,
        split=args.split,
        max_samples=args.max_samples,
        output_dir=args.output_dir,
        batch_size=args.batch_size,
        top_k=args.top_k,
        min_count=args.min_count,
        threshold=args.threshold,
        max_length=args.max_length,
    )
    if "markdown" in result.paths:
        print("Highest total loss:")
        print(markdown_table(result.sequence_scores))
        print("\nLoss by token:")
        print(markdown_table(result.by_token))
        print("\nLoss by gold label:")
        print(markdown_table(result.by_label))
        print("\nConfusion matrix (rows gold, normalised):")
        print(markdown_table(result.confusion, float_format="{:.2f}"))
        print(f"\n{len(result.suspects)} confident disagreements with the gold tags.")
        print(f"Report written to {result.paths['markdown']}")
    return result
