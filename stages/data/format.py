"""Rows -> training formats: sft (chat messages), preference (prompt/chosen/rejected message
lists, TRL's conversational form), rl (prompt messages + ground truth) and verl (verl's RL
parquet schema), each split train/val by a hash of the row id (the same split in every kind).

A row goes to every kind it has the columns for. A row that fits no kind, or whose dialogue
pair cannot be split into one prompt and two final replies, is rejected with the reason.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from stages.common import rejects
from stages.data import dialogue, text

STAGE = "format"
KINDS = ("sft", "preference", "rl", "verl")
MSGS = pl.List(pl.Struct({"role": pl.Utf8, "content": pl.Utf8}))
SCHEMAS = {
    "sft": {"id": pl.Utf8, "messages": MSGS},
    "preference": {"id": pl.Utf8, "prompt": MSGS, "chosen": MSGS, "rejected": MSGS},
    "rl": {"id": pl.Utf8, "prompt": MSGS, "ground_truth": pl.Utf8, "data_source": pl.Utf8},
    "verl": {"data_source": pl.Utf8, "prompt": MSGS, "ability": pl.Utf8,
             "reward_model": pl.Struct({"style": pl.Utf8, "ground_truth": pl.Utf8}),
             "extra_info": pl.Struct({"split": pl.Utf8, "index": pl.Int64, "id": pl.Utf8})},
}


@dataclass
class FormatConfig:
    """data.format and the seed; every value comes from params (params/data/profiles/factory.yaml)."""
    kinds: list[str]                    # which of sft, preference, rl, verl to write
    val_fraction: float                 # share of rows (by id hash) in val
    seed: int                           # salts the split hash
    rl_instruction: str | None          # appended to rl/verl prompts (answer format)
    ability: str                        # verl `ability`
    data_source: str | None             # rl/verl data_source; None = the row's source
    sft_from_dialogue: bool             # a dialogue in `chosen` (no response) is an SFT example

    def __post_init__(self):
        bad = sorted(set(self.kinds) - set(KINDS))
        if bad:
            raise ValueError(f"data.format.kinds: unknown {bad}; valid: {list(KINDS)}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"data.format.val_fraction={self.val_fraction}: must be in [0, 1)")


def split_of(row_id: str, seed: int, val_fraction: float) -> str:
    """Deterministic split from the id alone (blake2b: stable across versions and machines)."""
    h = int.from_bytes(hashlib.blake2b(f"{seed}:{row_id}".encode(), digest_size=8).digest(), "big")
    return "val" if h / 2 ** 64 < val_fraction else "train"


def _msg(role: str, content: str) -> dict:
    return {"role": role, "content": content}


def _has(v: str | None) -> bool:
    return bool(v and v.strip())


def examples(row: dict, cfg: FormatConfig) -> dict[str, dict]:
    """The examples one row yields, per kind (raises DialogueError for a bad dialogue pair)."""
    out = {}
    prompt, response, chosen, rejected = row["prompt"], row["response"], row["chosen"], row["rejected"]
    if "sft" in cfg.kinds:
        if _has(prompt) and _has(response):
            out["sft"] = {"messages": [_msg("user", prompt), _msg("assistant", response)]}
        elif cfg.sft_from_dialogue and not _has(response) and dialogue.is_dialogue(chosen):
            msgs = dialogue.parse(chosen)
            if msgs[-1]["role"] == "assistant" and len(msgs) >= 2:
                out["sft"] = {"messages": msgs}
    if "preference" in cfg.kinds and _has(chosen) and _has(rejected):
        if not _has(prompt) and dialogue.is_dialogue(chosen) and dialogue.is_dialogue(rejected):
            p, c, r = dialogue.split_pair(chosen, rejected)
            out["preference"] = {"prompt": p, "chosen": [c], "rejected": [r]}
        elif _has(prompt):
            if chosen.strip() == rejected.strip():
                raise dialogue.DialogueError("identical_pair", "chosen and rejected are identical")
            out["preference"] = {"prompt": [_msg("user", prompt)], "chosen": [_msg("assistant", chosen)],
                                 "rejected": [_msg("assistant", rejected)]}
    if _has(prompt) and _has(row["ground_truth"]):
        content = prompt if not cfg.rl_instruction else f"{prompt} {cfg.rl_instruction}"
        source = cfg.data_source or row["source"]
        if "rl" in cfg.kinds:
            out["rl"] = {"prompt": [_msg("user", content)], "ground_truth": row["ground_truth"],
                         "data_source": source}
        if "verl" in cfg.kinds:
            out["verl"] = {"data_source": source, "prompt": [_msg("user", content)], "ability": cfg.ability,
                           "reward_model": {"style": "rule", "ground_truth": row["ground_truth"]}}
    return out


def _why_none(row: dict, cfg: FormatConfig) -> str:
    present = [c for c in text.TEXT_FIELDS + ("ground_truth",) if _has(row[c])]
    return f"no kind in {cfg.kinds} fits the columns present {present}"


@dataclass
class Formatter:
    """Rows -> examples, a chunk at a time; carries the per-split example counts (verl's
    `extra_info.index`) from one chunk to the next."""
    cfg: FormatConfig
    seen: dict = field(default_factory=dict)   # (kind, split) -> examples so far

    def chunk(self, df: pl.DataFrame) -> tuple[dict[str, dict[str, pl.DataFrame]], pl.DataFrame, int]:
        """Rows (in the natural order) -> ({kind: {split: frame}}, rejected rows, rows kept)."""
        out = {k: {"train": [], "val": []} for k in self.cfg.kinds}
        bad, kept = [], 0
        for row in df.iter_rows(named=True):
            try:
                ex = examples(row, self.cfg)
            except dialogue.DialogueError as e:
                bad.append(rejects.reject(STAGE, e.rule, str(e), row, id=row["id"], source=row["source"]))
                continue
            if not ex:
                bad.append(rejects.reject(STAGE, "no_format_kind", _why_none(row, self.cfg), row,
                                          id=row["id"], source=row["source"]))
                continue
            kept += 1
            split = split_of(row["id"], self.cfg.seed, self.cfg.val_fraction)
            for kind, e in ex.items():
                if kind == "verl":
                    index = self.seen.get((kind, split), 0) + len(out[kind][split])
                    e["extra_info"] = {"split": split, "index": index, "id": row["id"]}
                else:
                    e = {"id": row["id"], **e}
                out[kind][split].append(e)
        for k, v in out.items():
            for s, exs in v.items():
                self.seen[(k, s)] = self.seen.get((k, s), 0) + len(exs)
        frames = {k: {s: pl.DataFrame(exs, schema=SCHEMAS[k]) for s, exs in v.items()} for k, v in out.items()}
        return frames, rejects.frame(bad), kept


def run(df: pl.DataFrame, cfg: FormatConfig) -> tuple[dict[str, dict[str, pl.DataFrame]], pl.DataFrame, int]:
    """Rows -> ({kind: {split: frame}}, rejected rows, rows kept), the whole frame at once."""
    return Formatter(cfg).chunk(text.sort_rows(df))
