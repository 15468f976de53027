"""MinHash signatures equal datasketch's; dedup and decontamination on GSM8K with planted copies."""
from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash
from rowframes import frame

from stages.data import decontam, dedup, lsh, text
from stages.data.minhash import Signer


def test_signatures_equal_datasketch_minhash_bit_for_bit(gsm8k_train):
    norm = pl.DataFrame({"t": [r["question"] for r in gsm8k_train[:40]] + ["short", ""]}).select(
        text.normalised(pl.col("t"))).to_series()
    signer = Signer(num_perm=64, seed=3, shingle="words", shingle_size=5, chunk=97)  # chunks cut texts
    sig = signer.signatures(norm)
    g = signer.shingles(norm)
    for d in range(len(norm) - 1):
        ref = MinHash.bulk([[int(x) for x in g.hashes[g.doc == d]]], num_perm=64, seed=3,
                           hashfunc=lambda x: x)[0]
        assert np.array_equal(ref.hashvalues, sig[d])
    assert (sig[-1] == np.iinfo(np.uint32).max).all()   # empty text: datasketch's empty sketch


def test_char_shingles_find_a_near_copy():
    a = "natalia sold clips to 48 of her friends in april and then she sold half as many clips in may"
    b = a.replace("friends", "friend")
    sig = Signer(128, 1, "chars", 12).signatures(pl.Series([a, b, "something else entirely, about trains"]))
    assert (sig[0] == sig[1]).mean() > 0.6 and (sig[0] == sig[2]).mean() < 0.2


def _datasketch_buckets(sig: np.ndarray, bands: int, rows: int) -> list[set]:
    """Per band, the buckets (sets of rows, size >= 2) of datasketch's own MinHashLSH."""
    from datasketch import LeanMinHash, MinHashLSH

    index = MinHashLSH(num_perm=sig.shape[1], params=(bands, rows))
    for i, row in enumerate(sig):
        index.insert(i, LeanMinHash(seed=1, hashvalues=row, scheme="affine32"))
    return [{frozenset(t.get(k)) for k, c in t.itemcounts().items() if c > 1} for t in index.hashtables]


def _ours(sig: np.ndarray, bands: int, rows: int) -> list[set]:
    out = []
    for b in range(bands):
        members, size = lsh.buckets(sig[:, b * rows:(b + 1) * rows])
        assert all(np.all(np.diff(g) > 0) for g in np.split(members, np.cumsum(size)[:-1]))  # ascending
        out.append({frozenset(g.tolist()) for g in np.split(members, np.cumsum(size)[:-1]) if len(g)})
    return out


@pytest.fixture(scope="module")
def near_sigs(gsm8k_train):
    """Signatures of 400 GSM8K questions, 100 two-word edits of them and 40 copies of one."""
    rng = random.Random(1)
    qs = [r["question"] for r in gsm8k_train[:400]]
    qs += [_edit_words(q, rng, 2) for q in qs[:100]] + [qs[7]] * 40
    return Signer(112, 1, "words", 5).signatures(text.normalise(pl.Series(qs)))


def test_lsh_buckets_equal_datasketch_minhashlsh(near_sigs):
    ref = _datasketch_buckets(near_sigs, 14, 8)
    assert sum(len(b) for b in ref) > 50 and max(len(g) for b in ref for g in b) > lsh.ALL_PAIRS_MAX
    assert _ours(near_sigs, 14, 8) == ref


def test_lsh_buckets_split_clashing_keys_by_value(near_sigs, monkeypatch):
    """A key shared by different band values (forced here with a weak key) never joins them."""
    monkeypatch.setattr(lsh, "band_keys", lambda band: (band[:, 0] % 5).astype(np.uint64))
    assert _ours(near_sigs, 14, 8) == _datasketch_buckets(near_sigs, 14, 8)


def test_candidate_pairs_all_pairs_in_small_buckets_star_and_chain_in_large():
    members = np.array([3, 5, 9] + list(range(100, 140)))
    got = {tuple(p) for p in lsh.pairs(members, np.array([3, 40])).tolist()}
    big = list(range(100, 140))
    want = {(3, 5), (3, 9), (5, 9)} | {(100, j) for j in big[1:]} | set(zip(big[:-1], big[1:]))
    assert got == want


def test_leaders_verify_every_member_against_its_representative():
    """A-B and B-C similar, A-C not: C must not join A's cluster through B (no chaining)."""
    sig = np.zeros((4, 10), np.uint32)
    sig[1, :3] = 1          # row 1 agrees with row 0 on 7/10
    sig[2, :3] = 1
    sig[2, 3:7] = 2         # row 2 agrees with row 1 on 6/10, with row 0 on 3/10
    sig[3] = 9              # unrelated
    leader, sim = lsh.leaders(sig, np.arange(4), np.array([[0, 1], [1, 2], [0, 2]]), 0.5)
    assert leader.tolist() == [0, 0, 2, 3] and sim.tolist() == [1.0, 0.7, 1.0, 1.0]


def _words(s: str) -> list[str]:
    return re.sub(r"[^\w\s]", " ", s.lower()).split()


def _shingles(s: str, n: int = 5) -> set:
    w = _words(s)
    return {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}


def _jaccard(a: str, b: str) -> float:
    x, y = _shingles(a), _shingles(b)
    return len(x & y) / len(x | y)


def _edit_words(s: str, rng: random.Random, k: int) -> str:
    w = s.split(" ")
    for i in rng.sample(range(len(w)), min(k, len(w))):
        w[i] = rng.choice(["many", "several", "exactly", "about", "some"])
    return " ".join(w)


def _reorder(s: str, rng: random.Random) -> str:
    sents = re.split(r"(?<=[.?!])\s+", s)
    if len(sents) < 3:
        return s
    i = rng.randrange(len(sents) - 2)
    sents[i], sents[i + 1] = sents[i + 1], sents[i]
    return " ".join(sents)


@pytest.fixture(scope="module")
def planted(gsm8k_train, gsm8k_test):
    """GSM8K train + 150 exact copies, 300 near copies (word edits / sentence swaps), 60 test
    questions slipped in. Returns (frame, {planted id: original id}, exact ids, contaminated ids)."""
    rng = random.Random(0)
    rows = [{"id": f"gsm8k:{i}", "source": "gsm8k", "prompt": r["question"], "response": r["answer"]}
            for i, r in enumerate(gsm8k_train)]
    n, near, exact, cont = len(rows), {}, set(), {}
    for j, i in enumerate(rng.sample(range(n), 510)):
        src, rid = rows[i], f"planted:{j}"
        if j < 150:
            new, kind = {"prompt": src["prompt"], "response": src["response"]}, "exact"
        elif j < 450:
            edit = _edit_words if j % 2 else (lambda s, r, k: _reorder(s, r))
            new = {"prompt": edit(src["prompt"], rng, 2), "response": edit(src["response"], rng, 2)}
            kind = "near"
        else:
            q = gsm8k_test[rng.randrange(len(gsm8k_test))]["question"]
            new, kind = {"prompt": q, "response": src["response"]}, "cont"
        rows.append({"id": rid, "source": "planted", **new})
        if kind == "exact":
            exact.add(rid)
        if kind in ("exact", "near"):
            near[rid] = src["id"]
        if kind == "cont":
            cont[rid] = q
    return frame(rows), near, exact, cont


@pytest.fixture(scope="module")
def deduped(planted, factory):
    df = planted[0]
    cfg = dedup.DedupConfig.from_params(factory["dedup"])
    kept, rejected, report, _ = dedup.run(df, cfg)
    return kept, rejected, report


def test_dedup_recall_and_precision_on_planted_copies(planted, deduped, factory):
    df, originals, exact, _ = planted
    kept, rejected, report = deduped
    small = dedup.run(df, dedup.DedupConfig.from_params(factory["dedup"]), batch=333)
    assert small[0].equals(kept) and small[1].equals(rejected)     # batched signing: same decisions
    by_id = {r["id"]: r for r in df.iter_rows(named=True)}
    joined = {k: f"{v['prompt']}\n{v['response']}" for k, v in by_id.items()}
    dropped = set(rejected["id"].to_list())
    # recall: every planted copy with true Jaccard >= 0.8 to its original is dropped
    targets = [p for p, o in originals.items() if _jaccard(joined[p], joined[o]) >= 0.8]
    assert len(targets) >= 200   # the rest were edited below 0.8 (short texts)
    recall = sum(p in dropped for p in targets) / len(targets)
    assert recall >= 0.95, recall
    assert exact <= dropped and set(rejected.filter(pl.col("rule") == "exact_duplicate")["id"]) >= exact
    # precision: a dropped row is right if it was planted or truly near its kept representative
    rep_of = {r["id"]: re.search(r"of (\S+) ", r["detail"]).group(1) for r in rejected.iter_rows(named=True)}
    right = [d for d in dropped if d in originals or _jaccard(joined[d], joined[rep_of[d]]) >= 0.7]
    precision = len(right) / len(dropped)
    assert precision >= 0.99, (precision, sorted(set(dropped) - set(right))[:5])
    # conservation, and the kept row of a cluster is the earliest one (the original)
    assert kept.height + rejected.height == df.height
    assert all(not rep.startswith("planted") for d, rep in rep_of.items() if d in originals)
    assert report["clusters"] > 0 and report["example_pairs"]


def _benchmark_files() -> dict:
    import yaml

    root = Path(__file__).resolve().parents[2] / "params" / "eval" / "benchmarks"
    return {n: yaml.safe_load((root / f"{n}.yaml").read_text()) for n in ("gsm8k", "math500", "humaneval")}


def test_decontamination_recall_and_precision(planted, deduped, tmp_path):
    from stages import datasets

    _, _, _, cont = planted
    kept = deduped[0]
    datasets.write(_benchmark_files(), tmp_path)      # what the `datasets` stage writes: files + manifests
    index = decontam.index_from_params({"ngram": 13, "min_item_words": 8}, root=tmp_path)
    assert set(index.items) == {"gsm8k", "math500", "humaneval"} and index.items["humaneval"] == 164
    clean, rejected, report = decontam.run(kept, index, ["prompt", "response"])
    flagged = set(rejected["id"].to_list())
    assert set(cont) <= flagged                                   # recall 1.0
    tests = [r for r in index_items("gsm8k/test.jsonl", "question")]
    rows = {r["id"]: f"{r['prompt']}\n{r['response']}" for r in kept.iter_rows(named=True)}
    # precision: each hit's n-gram really occurs in the row and in the named item
    ok = 0
    for h in report["hits"]:
        item_text = tests[int(h["item"].split(":")[1])] if h["benchmark"] == "gsm8k" else None
        row_words = " ".join(_words(rows[h["id"]]))
        if h["ngram"] in row_words and (item_text is None or h["ngram"] in " ".join(_words(item_text))):
            ok += 1
    assert ok / len(report["hits"]) >= 0.99
    assert clean.height + rejected.height == kept.height
    assert report["by_benchmark"]["gsm8k"] >= len(cont)
    norm = text.normalise(text.sort_rows(kept).select(text.joined(["prompt", "response"])).to_series())
    assert index.hits(norm, chunk=7) == index.hits(norm)          # chunked rows: the same first hits


def index_items(rel: str, field: str) -> list[str]:
    import json

    from stages.common.shared import shared_datasets
    return [json.loads(x)[field] for x in (shared_datasets() / rel).read_text().splitlines()]


def test_missing_benchmark_file_is_one_clear_error():
    with pytest.raises(ValueError, match="mmlu/test.jsonl: source file not found"):
        decontam.load_benchmark("mmlu", {"source": "local:mmlu/test.jsonl", "decontam": "question"})


def test_a_benchmark_without_a_decontam_field_is_not_indexed(tmp_path):
    from stages import datasets

    benches = _benchmark_files()
    benches["math500"]["decontam"] = None
    datasets.write(benches, tmp_path)
    assert set(decontam.manifests(tmp_path)) == {"gsm8k", "humaneval"}
    with pytest.raises(KeyError, match=r"row 1: no field 'quest' \(eval.benchmarks.gsm8k.decontam\)"):
        decontam.load_benchmark("gsm8k", {**benches["gsm8k"], "decontam": "quest"})
