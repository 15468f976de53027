"""Read the format stage's output for one kind and hand trainers plain rows.

    ${paths.format}/sft/{train,val}.parquet         id, messages
    ${paths.format}/preference/{train,val}.parquet  id, prompt, chosen, rejected (message lists)
    ${paths.format}/rl/{train,val}.parquet          id, prompt (messages), ground_truth, data_source

A missing column or a malformed row fails with the file, the row id and the rule.
"""
from __future__ import annotations

from pathlib import Path

from stages.common import io

MESSAGE_COLUMNS = {"sft": ("messages",), "preference": ("prompt", "chosen", "rejected"), "rl": ("prompt",)}
COLUMNS = {
    "sft": ("id", "messages"),
    "preference": ("id", "prompt", "chosen", "rejected"),
    "rl": ("id", "prompt", "ground_truth", "data_source"),
}


def read_rows(format_dir: str | Path, kind: str, split: str) -> list[dict]:
    """Rows of `<format_dir>/<kind>/<split>.parquet` as dicts, columns checked."""
    if kind not in COLUMNS:
        raise KeyError(f"unknown data kind {kind!r}; valid: {', '.join(COLUMNS)}")
    path = Path(format_dir) / kind / f"{split}.parquet"
    df = io.read_parquet(path)
    missing = [c for c in COLUMNS[kind] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing} (kind {kind!r} needs {list(COLUMNS[kind])})")
    if df.height == 0:
        raise ValueError(f"{path}: no rows")
    rows = df.to_dicts()
    for row in rows:
        for col in MESSAGE_COLUMNS[kind]:
            _check_messages(row[col], path, row.get("id"), col)
    return rows


def _check_messages(messages, path: Path, row_id, col: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{path}: row {row_id}: column {col!r} must be a non-empty list of messages")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError(f"{path}: row {row_id}: column {col!r} has a message without string "
                             f"role/content: {m!r}")


def sft_prompt_completion(rows: list[dict], path_hint: str = "sft") -> list[dict]:
    """`messages` -> TRL conversational prompt/completion, so the loss covers only the final
    assistant turn (TRL's completion_only_loss) whatever the chat template supports."""
    out = []
    for row in rows:
        msgs = row["messages"]
        if msgs[-1]["role"] != "assistant":
            raise ValueError(f"{path_hint}: row {row['id']}: last message must be the assistant's "
                             f"answer, got role {msgs[-1]['role']!r}")
        if len(msgs) < 2:
            raise ValueError(f"{path_hint}: row {row['id']}: needs a prompt turn before the answer")
        out.append({"prompt": [_msg(m) for m in msgs[:-1]], "completion": [_msg(msgs[-1])]})
    return out


def preference_pairs(rows: list[dict]) -> list[dict]:
    """TRL conversational preference rows: prompt, chosen, rejected as message lists."""
    return [{"prompt": [_msg(m) for m in r["prompt"]], "chosen": [_msg(m) for m in r["chosen"]],
             "rejected": [_msg(m) for m in r["rejected"]]} for r in rows]


def _msg(m: dict) -> dict:
    return {"role": m["role"], "content": m["content"]}


def to_dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_list(rows)
