"""Plain-Python ports of datatrove's repetition statistics: the oracle the vectorised ones are
tested against."""
from __future__ import annotations

from collections import Counter

from stages.data.repeats import find_all_duplicate
from stages.data.tokens import TOKEN_RE


def reference_repetition_values(text: str, n: int) -> tuple[int, int]:
    """Plain-Python (top n-gram chars, greedy dup chars) of one text: the oracle tests compare to."""
    words = TOKEN_RE.findall(text)
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    top = 0
    if grams:
        gram, count = Counter(grams).most_common(1)[0]
        top = len(gram) * count
    return top, find_all_duplicate(words, n)
