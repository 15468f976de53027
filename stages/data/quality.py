"""Quality scores per row: cheap text heuristics, or the base model's per-token likelihood of
the response given the prompt; keep rows by threshold or by top fraction; score histograms.

Heuristic score (0..1) = length x alphanumeric share x distinct-word share, each scaled by its
floor and capped at 1 (see `heuristic`). Model score (0..1) = exp(mean token log-prob) of the response, the
geometric-mean token probability; `both` averages the two.
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from stages.common import rejects
from stages.data import text

STAGE = "quality"
KEYS = ("method", "threshold", "top_fraction", "min_words", "bins", "batch_size", "max_length")   # data.quality


def main_text() -> pl.Expr:
    """The text a row is judged by: its response, else chosen, else prompt."""
    return pl.coalesce(pl.col("response"), pl.col("chosen"), pl.col("prompt")).fill_null("")


def heuristic(df: pl.DataFrame, min_words: int, min_alnum: float = 0.7, min_distinct: float = 0.3) -> np.ndarray:
    """Product of three capped shares, so one bad property sinks the row: length (words /
    min_words), alphanumeric characters among non-space ones (/ min_alnum) and distinct words
    among words (/ min_distinct; a text looping on itself scores low)."""
    t = main_text()
    words = t.str.to_lowercase().str.extract_all(r"\w+")
    f = df.select(
        length=(t.str.count_matches(r"\S+") / min_words).clip(0, 1),
        alnum=(t.str.count_matches(r"[\p{L}\p{N}]") / pl.max_horizontal(t.str.count_matches(r"\S"), 1)
               / min_alnum).clip(0, 1),
        distinct=(words.list.n_unique() / pl.max_horizontal(words.list.len(), 1) / min_distinct).clip(0, 1),
    )
    return f.select(pl.col("length") * pl.col("alnum") * pl.col("distinct")).to_series().fill_null(0).to_numpy()


def load_model(model_dir: str):
    """(model, tokenizer) for `model_scores`, loaded once per stage run."""
    from stages.models import load

    model, tok = load(model_dir, for_generation=False)
    model.eval()
    return model, tok


def model_scores(df: pl.DataFrame, model, tok, batch_size: int, max_length: int) -> np.ndarray:
    """exp(mean log p(response token | prompt, previous tokens)) per row, batched, no grad."""
    import torch

    prompts = df.select(pl.col("prompt").fill_null("")).to_series().to_list()
    answers = df.select(main_text()).to_series().to_list()
    out = np.zeros(len(answers))
    for lo in range(0, len(answers), batch_size):
        p, a = prompts[lo:lo + batch_size], answers[lo:lo + batch_size]
        enc_p = [tok(x, add_special_tokens=False)["input_ids"] for x in p]
        enc_a = [tok(x, add_special_tokens=False)["input_ids"] for x in a]
        seqs = [(ep + ea)[:max_length] for ep, ea in zip(enc_p, enc_a)]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for i, (s, ep) in enumerate(zip(seqs, enc_p)):
            ids[i, :len(s)] = torch.tensor(s)
            mask[i, :len(s)] = 1
            target[i, len(ep):len(s)] = True          # response tokens only
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]   # (B, T-1, V)
        logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None])[..., 0]
        tgt = target[:, 1:]
        mean = (logp * tgt).sum(1) / tgt.sum(1).clamp(min=1)
        out[lo:lo + len(seqs)] = torch.exp(mean).numpy()
    return out


def histogram(scores: np.ndarray, bins: int) -> list[int]:
    return np.histogram(scores, bins=bins, range=(0.0, 1.0))[0].astype(int).tolist()


def decide(scores: np.ndarray, threshold: float | None, top_fraction: float | None) -> np.ndarray:
    """(N,) bool: rows scoring >= threshold, and (if set) only the best `top_fraction` of all
    rows (ties broken by row order, so the choice is deterministic)."""
    n = len(scores)
    keep = np.ones(n, bool) if threshold is None else scores >= threshold
    if top_fraction is not None:
        k = math.ceil(top_fraction * n)
        order = np.lexsort((np.arange(n), -scores))
        top = np.zeros(n, bool)
        top[order[:k]] = True
        keep &= top
    return keep


def split(df: pl.DataFrame, scores: np.ndarray, keep: np.ndarray, threshold: float | None,
          top_fraction: float | None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Rows (in the natural order) with their scores and decisions -> (kept, rejected with the
    score, scores frame: id, score, kept)."""
    gone = np.flatnonzero(~keep)
    bad = df[gone]
    why = ["below_threshold" if threshold is not None and scores[i] < threshold else "below_top_fraction"
           for i in gone]
    rejected = pl.DataFrame({
        "id": bad["id"], "source": bad["source"], "stage": [STAGE] * len(gone), "rule": why,
        "detail": [f"score {scores[i]:.3f} (threshold {threshold}, top_fraction {top_fraction})" for i in gone],
        "record": [rejects.reject("", "", "", r)["record"] for r in bad.iter_rows(named=True)],
    }, schema=rejects.REJECT_SCHEMA)
    scored = pl.DataFrame({"id": df["id"], "score": scores, "kept": keep})
    return df.filter(pl.Series(keep)), rejected, scored


def report(scores: np.ndarray, keep: np.ndarray, bins: int) -> dict:
    """Score histograms before and after, and the mean scores."""
    hist = {"bins": np.linspace(0, 1, bins + 1).round(4).tolist(), "before": histogram(scores, bins),
            "after": histogram(scores[keep], bins)}
    stats = {"mean_before": float(scores.mean()) if len(scores) else None,
             "mean_after": float(scores[keep].mean()) if keep.any() else None}
    return {"histogram": hist, "score": stats}


def run(df: pl.DataFrame, scores: np.ndarray, threshold: float | None, top_fraction: float | None,
        bins: int = 20) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Whole-frame `decide` + `split` + `report` (the quality stage does it a chunk at a time)."""
    df = text.sort_rows(df)
    keep = decide(scores, threshold, top_fraction)
    kept, rejected, scored = split(df, scores, keep, threshold, top_fraction)
    return kept, rejected, {**report(scores, keep, bins), "scores": scored}
