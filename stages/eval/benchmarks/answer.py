"""The `answer` scorer: a prompt per row, named extractors read the answer from each response,
and each is compared with the row's gold. GSM8K, MATH-500 and any dataset of the same shape
(SVAMP, ASDiv, MAWPS, AQuA's numbers, ...) are one YAML in params/eval/benchmarks/:

    instruction: "...{question}..."     a row field in braces is replaced by its value
    gold: answer  gold_extract: gsm8k_gold | null
    extractors: {strict: gsm8k_strict, flexible: last_number}   (stages.scoring.extract.EXTRACTORS)
    compare: numeric | math | exact     group_by: [subject, level]

The `headline` extractor (default: the first) gives `accuracy` and the per-sample `correct`; with more than one,
each also gets its own block (`strict`, `flexible`) and column (`correct_flexible`).
n-shot exemplars come from `fewshot_source` (never the test source: checked) as earlier chat
turns; a response that repeats an exemplar's question or first answer line is flagged
`recited_exemplar` (a model reciting an exemplar's `#### N` would otherwise score it).
"""
from __future__ import annotations

import random
import re
from typing import Any, Callable

from stages.eval import data
from stages.eval.benchmarks import SCORERS, Scorer, Task, sample_row
from stages.eval.metrics import grouped, mean_ci
from stages.scoring import extract

FIELD = re.compile(r"\{(\w+)\}")
CALC = re.compile(r"<<[^>]*>>")     # GSM8K's calculator annotations: noise in an exemplar


def fill(template: str, row: dict, where: str) -> str:
    """The template with each `{field}` naming a row field replaced (LaTeX braces such as
    `\\boxed{}` are left alone); a template that names no field of the row is an error."""
    used = [m.group(1) for m in FIELD.finditer(template) if m.group(1) in row]
    if not used:
        raise ValueError(f"{where}: the instruction names no field of the rows in braces "
                         f"(fields: {sorted(row)})")
    return FIELD.sub(lambda m: str(row[m.group(1)]).strip() if m.group(1) in row else m.group(0), template)


def _prompt(cfg: Any, turns: list[dict], text: str) -> Any:
    """Chat messages (exemplar turns, then the item), or the raw text when `chat: false`."""
    if cfg.get("chat", True):
        return [*turns, {"role": "user", "content": text}]
    if turns:
        raise ValueError("n_shot > 0 needs `chat: true` (exemplars are earlier chat turns)")
    return text


def _gold(cfg: Any, row: dict) -> str:
    value = row[cfg.gold]
    return extract.GOLD.get(cfg.get("gold_extract") or "as_is")(str(value))


def _exemplars(name: str, cfg: Any, test_rows: list[dict]) -> list[dict]:
    if not cfg.get("n_shot"):
        return []
    if not cfg.get("fewshot_source"):
        raise ValueError(f"eval.benchmarks.{name}.n_shot={cfg.n_shot} needs a fewshot_source")
    pool = data.load_rows(cfg.fewshot_source, cfg.get("hf_config"), cfg.get("fewshot_split"))
    shots = random.Random(cfg.subset_seed).sample(pool, int(cfg.n_shot))
    seen = {fill(cfg.instruction, r, name) for r in test_rows}
    leaked = [s for s in shots if fill(cfg.instruction, s, name) in seen]
    if leaked:
        raise ValueError(f"eval.benchmarks.{name}.fewshot_source={cfg.fewshot_source!r} shares items "
                         f"with the test source (e.g. {str(leaked[0])[:80]!r}); use the train split")
    return shots


def _signatures(cfg: Any, shots: list[dict]) -> list[str]:
    """Text that only a recitation of an exemplar would contain: the start of each filled-in
    field and of its worked answer."""
    sigs = []
    for s in shots:
        sigs += [str(s[f]).strip()[:60] for f in FIELD.findall(cfg.instruction) if f in s]
        sigs.append(CALC.sub("", str(s[cfg.gold])).strip().splitlines()[0][:60])
    return [s for s in sigs if len(s) >= 20]


def load(name: str, cfg: Any) -> list[Task]:
    rows = data.load_rows(cfg.source, cfg.get("hf_config"), cfg.get("split"), cfg.get("revision"))
    for i, r in enumerate(rows):
        data.require(r, (cfg.gold, *cfg.get("group_by", ())), f"{cfg.source} row {i + 1}")
    shots = _exemplars(name, cfg, rows)
    turns = []
    for s in shots:
        turns += [{"role": "user", "content": fill(cfg.instruction, s, name)},
                  {"role": "assistant", "content": CALC.sub("", str(s[cfg.gold]))}]
    sigs = _signatures(cfg, shots)
    id_field = cfg.get("id_field")
    return [Task(id=str(r[id_field]) if id_field and r.get(id_field) is not None else f"{name}:{i}",
                 prompt=_prompt(cfg, turns, fill(cfg.instruction, r, name)),
                 gold=_gold(cfg, r),
                 meta={"signatures": sigs, **{g: r[g] for g in cfg.get("group_by", ())}})
            for i, r in data.subset(rows, cfg.limit, cfg.subset_seed)]


def comparer(cfg: Any) -> tuple[Callable[[str, str], tuple[str, bool]], Callable[[], dict]]:
    """(judge(raw extracted, gold) -> (shown value, correct), close() -> stats)."""
    kind = cfg.get("compare", "exact")
    if kind == "numeric":
        return (lambda raw, gold: (extract.normalize_number(raw),
                                   extract.same_number(extract.normalize_number(raw), gold))), dict
    if kind == "exact":
        return (lambda raw, gold: (raw.strip(), raw.strip() == gold.strip())), dict
    if kind == "math":
        from stages.scoring.math_equiv import MathVerifier

        verifier, timeout = MathVerifier(), float(cfg.get("verify_timeout_s", 5.0))

        def close() -> dict:
            verifier.close()
            return {"verify_timeouts": verifier.timeouts}
        return (lambda raw, gold: (raw, verifier.equal(raw, gold, timeout))), close
    raise ValueError(f"compare: {kind!r}: expected numeric, math or exact")


def _names(cfg: Any) -> list[str]:
    """Extractor names, the headline first (`headline`, else the first listed: a YAML writer
    that sorts keys would otherwise change which score is `accuracy`)."""
    names = list(cfg.extractors)
    head = cfg.get("headline") or names[0]
    if head not in names:
        raise KeyError(f"headline: {head!r} is not one of the extractors {names}")
    return [head, *(n for n in names if n != head)]


def score(tasks: list[Task], comps: list[Any], cfg: Any) -> tuple[list[dict], dict]:
    from tqdm import tqdm

    names = _names(cfg)
    fns = {n: extract.EXTRACTORS.get(cfg.extractors[n]) for n in names}
    judge, close = comparer(cfg)
    rows, per_item = [], {n: [] for n in names}
    try:
        for task, comp in tqdm(list(zip(tasks, comps)), desc="score", unit="item", disable=len(tasks) < 64):
            hits = {n: [] for n in names}
            for j, text in enumerate(comp.texts):
                row = {**sample_row(task, comp, j), "gold": task.gold}
                for k, n in enumerate(names):
                    raw = fns[n](text)
                    value, ok = (None, False) if raw is None else judge(raw, task.gold)
                    suffix = "" if k == 0 else f"_{n}"
                    row[f"extracted{suffix}"], row[f"correct{suffix}"] = value, ok
                    hits[n].append(ok)
                row["recited_exemplar"] = any(sig in text for sig in task.meta["signatures"])
                rows.append({**row, **{g: task.meta[g] for g in cfg.get("group_by", ())}})
            for n in names:
                per_item[n].append(sum(hits[n]) / len(hits[n]))
    finally:
        stats = close()
    n_samples = len(comps[0].texts) if comps else 1
    cis = {n: mean_ci(per_item[n], n_samples) for n in names}
    blocks = cis if len(names) > 1 else {}
    return rows, {**cis[names[0]], **blocks, "headline": names[0], "n_shot": int(cfg.get("n_shot") or 0),
                  "no_answer": sum(r["extracted"] is None for r in rows),
                  "recited_exemplar": sum(r["recited_exemplar"] for r in rows),
                  **{f"by_{g}": grouped(rows, g) for g in cfg.get("group_by", ())}, **stats}


SCORERS.register("answer")(lambda: Scorer(load=load, score=score))
