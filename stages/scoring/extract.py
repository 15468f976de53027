"""Answer extraction shared by eval scorers and RL rewards (one extractor, two callers).

The GSM8K regexes are lm-eval-harness's `gsm8k` task, verbatim, so our numbers can be put
beside published lm-eval numbers:
- strict:   `#### (\\-?[0-9\\.\\,]+)`, first match (the answer line the prompt asks for);
- flexible: `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match (the last number anywhere);
then both sides drop `,`, `$` and one trailing `.` before an exact string comparison.

`last_boxed` is the MATH reference extractor (`last_boxed_only_string`): the last
`\\boxed{...}` / `\\fbox{...}` with nested braces balanced, or `\\boxed 5`.
Pure functions, no imports beyond `re`: cheap to call from reward workers.
"""
from __future__ import annotations

import re

STRICT_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE_RE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_IGNORE = (re.compile(r","), re.compile(r"\$"), re.compile(r"\.$"))


def normalize_number(s: str) -> str:
    """lm-eval's `regexes_to_ignore` for gsm8k: drop `,` and `$`, then one trailing `.`."""
    s = s.strip()
    for pattern in _IGNORE:
        s = pattern.sub("", s)
    return s.strip()


def gsm8k_strict(text: str) -> str | None:
    """The number on the first `#### N` line, as written (normalize before comparing)."""
    m = STRICT_RE.search(text)
    return m.group(1) if m else None


def gsm8k_flexible(text: str) -> str | None:
    """The last number-like token in the text, as written (normalize before comparing)."""
    matches = FLEXIBLE_RE.findall(text)
    if not matches:
        return None
    groups = matches[-1]
    return next((g for g in groups if g), None)


def gsm8k_gold(answer: str) -> str:
    """The reference value of a GSM8K `answer` field (its `#### N` line), normalized."""
    _, sep, tail = answer.rpartition("#### ")
    if not sep:
        raise ValueError(f"GSM8K answer has no '#### ' line: {answer[-80:]!r}")
    return normalize_number(tail)


def gsm8k_match(text: str, gold: str, mode: str = "strict") -> tuple[str | None, bool]:
    """(extracted, correct) for one response; `gold` is a bare value such as `gsm8k_gold` gives."""
    extractor = {"strict": gsm8k_strict, "flexible": gsm8k_flexible}[mode]
    raw = extractor(text)
    if raw is None:
        return None, False
    pred = normalize_number(raw)
    return pred, pred == normalize_number(gold)


def last_boxed(text: str) -> str | None:
    """Contents of the last `\\boxed{...}` (or `\\fbox{...}`, `\\boxed x`), braces balanced."""
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    macro = "\\boxed" if text.startswith("\\boxed", idx) else "\\fbox"
    rest = text[idx + len(macro):]
    if rest.startswith(" "):  # `\boxed 5`: the token up to the next `$` or whitespace
        token = rest[1:].split("$")[0].split()
        return token[0] if token else None
    if not rest.startswith("{"):
        return None
    depth = 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return rest[1:i]
    return None  # unbalanced: the response was cut off inside the box
