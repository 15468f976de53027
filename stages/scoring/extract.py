"""Answer extraction shared by eval scorers and RL rewards (one extractor, two callers).

The GSM8K regexes are lm-eval-harness's `gsm8k` task, verbatim, so our numbers can be put
beside published lm-eval numbers:
- strict:   `#### (\\-?[0-9\\.\\,]+)`, first match (the answer line the prompt asks for);
- flexible: `(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match (the last number anywhere);
then both sides drop `,`, `$` and one trailing `.`, and are compared as numbers, not strings:
`5.0`, `1.840`, `145.0` equal gold `5`, `1.84`, `145` (lm-eval's string compare scores them
wrong, so our accuracy is lm-eval's plus these). Text that is not a plain decimal number
(`1.2.3`, `3/4`) falls back to string equality. Known limit: both regexes cut `3.2e5` at the
`e` (strict reads `3.2`, flexible `5`), as lm-eval does; LaTeX answers go through math_equiv.

`last_boxed` is the MATH reference extractor (`last_boxed_only_string`): the last
`\\boxed{...}` / `\\fbox{...}` with nested braces balanced, or `\\boxed 5`.
Pure functions, no heavy imports: cheap to call from reward workers. `EXTRACTORS` and `GOLD`
name them for benchmark files (params/eval/benchmarks/*.yaml).
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Callable

from stages.common.registry import Registry

STRICT_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE_RE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_IGNORE = (re.compile(r","), re.compile(r"\$"), re.compile(r"\.$"))
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)")  # a plain decimal literal, no exponent
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?")  # what ingest may canonicalise: no `007`


def normalize_number(s: str) -> str:
    """lm-eval's `regexes_to_ignore` for gsm8k: drop `,` and `$`, then one trailing `.`."""
    s = s.strip()
    for pattern in _IGNORE:
        s = pattern.sub("", s)
    return s.strip()


def as_number(s: str) -> Decimal | None:
    """The value of a normalized plain decimal (`-3.50`, `.5`, `7.`), else None (`1e5`, `3/4`)."""
    if not _DECIMAL.fullmatch(s):
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def same_number(pred: str, gold: str) -> bool:
    """Numeric equality of two answers after `normalize_number`; string equality otherwise."""
    a, b = normalize_number(pred), normalize_number(gold)
    x, y = as_number(a), as_number(b)
    return x == y if x is not None and y is not None else a == b


def canonical_number(s: str) -> str:
    """`145.0` -> `145`, `1.840` -> `1.84`, `-0.50` -> `-0.5`; anything else unchanged.

    Only plain decimals without leading zeros are rewritten (`007`, `1,234`, `1e5` are kept:
    they may be codes or lists), so a ground truth stored from a float reads as its value.
    """
    t = s.strip()
    if not _PLAIN_NUMBER.fullmatch(t) or "." not in t:
        return s
    t = t.rstrip("0").rstrip(".")
    return "0" if t in ("-0", "") else t


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
    return pred, same_number(pred, gold)


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


def as_is(answer: str) -> str:
    """A gold answer stored as the bare value."""
    return answer.strip()


# Named extractors a benchmark file picks (`extractors: {strict: gsm8k_strict, ...}`): a
# response -> the answer text as written, or None when it gives none.
EXTRACTORS: Registry[Callable[[str], "str | None"]] = Registry("extractor", "eval.benchmarks.<b>.extractors")
EXTRACTORS.register("gsm8k_strict")(gsm8k_strict)      # the first `#### N` line
EXTRACTORS.register("last_number")(gsm8k_flexible)     # the last number in the text
EXTRACTORS.register("last_boxed")(last_boxed)          # the last \boxed{...}
EXTRACTORS.register("whole")(as_is)                    # the whole response, stripped

# How a gold answer is read from its row field (`gold_extract`).
GOLD: Registry[Callable[[str], str]] = Registry("gold extractor", "eval.benchmarks.<b>.gold_extract")
GOLD.register("gsm8k_gold")(gsm8k_gold)
GOLD.register("as_is")(as_is)
