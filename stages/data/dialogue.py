"""HH-RLHF style dialogues ("\\n\\nHuman: ...\\n\\nAssistant: ...") <-> chat messages."""
from __future__ import annotations

import re

ROLES = {"Human": "user", "Assistant": "assistant"}
TURN = re.compile(r"\n\n(Human|Assistant): ?")


class DialogueError(ValueError):
    """A dialogue that cannot be read as alternating turns; `.rule` is the rejected-row rule."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule


def is_dialogue(text: str | None) -> bool:
    return bool(text) and text.lstrip(" ").startswith(("\n\nHuman:", "Human:"))


def parse(text: str) -> list[dict]:
    """Messages [{role, content}] of a dialogue; raises DialogueError if it has no turns."""
    body = text if text.startswith("\n\n") else "\n\n" + text.lstrip()
    parts = TURN.split(body)
    if parts[0].strip():
        raise DialogueError("dialogue_unparseable", f"text before the first turn: {parts[0][:60]!r}")
    msgs = [{"role": ROLES[r], "content": c.strip()} for r, c in zip(parts[1::2], parts[2::2])]
    if not msgs:
        raise DialogueError("dialogue_unparseable", "no Human:/Assistant: turns")
    return msgs


def split_pair(chosen: str, rejected: str) -> tuple[list[dict], dict, dict]:
    """Two dialogues -> (shared prompt messages, final chosen reply, final rejected reply).

    Both must end with an assistant turn and agree on every turn before it; otherwise the pair
    is not a preference over one prompt and is rejected with the reason.
    """
    c, r = parse(chosen), parse(rejected)
    for name, msgs in (("chosen", c), ("rejected", r)):
        if msgs[-1]["role"] != "assistant":
            raise DialogueError("dialogue_no_final_reply", f"{name} does not end with an Assistant turn")
        if not msgs[-1]["content"]:
            raise DialogueError("dialogue_empty_reply", f"{name}'s final Assistant turn is empty")
    if c[:-1] != r[:-1]:
        k = next((i for i, (a, b) in enumerate(zip(c[:-1], r[:-1])) if a != b), min(len(c), len(r)) - 1)
        raise DialogueError("dialogue_prefix_mismatch",
                            f"chosen and rejected differ before their final reply (turn {k + 1})")
    if len(c) < 2:
        raise DialogueError("dialogue_no_prompt", "no user turn before the final reply")
    if c[-1]["content"] == r[-1]["content"]:
        raise DialogueError("identical_pair", "chosen and rejected final replies are identical")
    return c[:-1], c[-1], r[-1]
