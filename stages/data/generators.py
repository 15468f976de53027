"""Seeded GSM8K-style arithmetic word problems with verifiable answers (no download needed).

Each problem is two or three steps; the response is a worked solution in GSM8K's style
(`<<a*b=c>>` calculator marks, a final `#### N` line). `rejected` is the same solution with a
wrong final step, so one source feeds SFT, preference and RL formats.
"""
from __future__ import annotations

import random
from typing import Callable, Iterator

from stages.common.registry import Registry

GENERATORS: Registry[Callable[..., Iterator[dict]]] = Registry("generator", "data.sources[].generator")

NAMES = ["Ava", "Ben", "Carla", "Dev", "Elif", "Femi", "Goro", "Hana", "Ivan", "Jia", "Kofi", "Lena",
         "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Vera", "Wei", "Yusuf"]
ITEMS = ["apples", "marbles", "stickers", "books", "pencils", "cookies", "stamps", "shells", "cards",
         "balloons", "muffins", "coins"]
PLACES = ["the market", "school", "the fair", "the library sale", "a garage sale", "the bakery"]


def _step_buy(rng, name, item, have):
    packs, per = rng.randint(2, 9), rng.randint(2, 12)
    total = have + packs * per
    text = f"At {rng.choice(PLACES)} {name} buys {packs} packs of {item} with {per} {item} in each pack."
    work = f"{name} buys {packs}*{per} = <<{packs}*{per}={packs * per}>>{packs * per} {item}.\n" \
           f"Now {name} has {have}+{packs * per} = <<{have}+{packs * per}={total}>>{total} {item}."
    return text, work, total


def _step_give(rng, name, item, have):
    give = rng.randint(1, max(1, have - 1))
    friend = rng.choice([n for n in NAMES if n != name])
    total = have - give
    text = f"{name} gives {give} {item} to {friend}."
    work = f"After giving some away, {name} has {have}-{give} = <<{have}-{give}={total}>>{total} {item}."
    return text, work, total


def _step_double(rng, name, item, have):
    k = rng.randint(2, 4)
    total = have * k
    text = f"Then the number of {item} {name} has grows {k} times over."
    work = f"{name} ends up with {have}*{k} = <<{have}*{k}={total}>>{total} {item}."
    return text, work, total


STEPS = [_step_buy, _step_give, _step_double]


def arithmetic_problem(rng: random.Random) -> dict:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    have = rng.randint(3, 40)
    sentences, works = [f"{name} has {have} {item}."], []
    for step in rng.sample(STEPS, k=rng.randint(2, 3)):
        text, work, have = step(rng, name, item, have)
        sentences.append(text)
        works.append(work)
    question = " ".join(sentences) + f" How many {item} does {name} have now?"
    wrong = have + rng.choice([-3, -2, -1, 1, 2, 5, 10])
    answer = "\n".join(works) + f"\n#### {have}"
    rejected = "\n".join(works[:-1] + [f"So {name} has {wrong} {item}."]) + f"\n#### {wrong}"
    return {"question": question, "answer": answer, "rejected": rejected, "final": str(have)}


@GENERATORS.register("arithmetic")
def arithmetic(rows: int, seed: int) -> Iterator[dict]:
    """Canonical rows: prompt, response (worked, `#### N`), chosen=response, rejected, ground_truth."""
    rng = random.Random(seed)
    for _ in range(rows):
        p = arithmetic_problem(rng)
        yield {"prompt": p["question"], "response": p["answer"], "chosen": p["answer"],
               "rejected": p["rejected"], "ground_truth": p["final"]}
