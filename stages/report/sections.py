"""ReportInputs -> Document: one function per section, each saying "not run" for a missing piece."""
from __future__ import annotations

import math
import re
from typing import Any

from stages.report import evaltable, figures
from stages.report.collect import ReportInputs
from stages.report.document import Cell, Code, Details, Document, Figure, Section, Table, Text
from stages.report.identity import ABSENT

NOT_RUN = Cell("not run", "muted")
USER_TURN, END_TURN = "<|im_start|>user", "<|im_end|>"     # ChatML, the models' chat template


def build(r: ReportInputs, title: str, samples_per_cell: int, alpha: float = 0.05) -> Document:
    rows = evaltable.flat_rows(r.eval_cells)
    subtitle = f"experiment `{r.experiment}` · git `{r.git_rev}` · params `{r.params_hash or 'unknown'}`"
    return Document(title, subtitle, [
        summary(r, rows), run_identity(r), params_changed(r), data_funnel(r), training(r),
        evaluation(rows, r.eval_cells, alpha), win_rate(r, alpha, samples_per_cell),
        sample_outputs(r, samples_per_cell), timings(r)])


def summary(r: ReportInputs, rows: list[dict]) -> Section:
    """Lines a reader can stop after: eval deltas, the win rate, the loss, the data kept, the time."""
    lines = []
    comp = [c for c in evaltable.comparison(rows, r.eval_cells) if c["policy"]]
    if comp:
        parts = [f"{c['bench']} {c['metric']} **{c['policy']['value']:.3f}**"
                 + (f" ({c['delta']:+.3f} vs base" + (f", paired p={c['paired']['p_value']:.3g}"
                                                       if c.get("paired") else "") + ")"
                    if c["delta"] is not None else "") for c in comp]
        lines.append("Policy: " + " · ".join(parts))
    else:
        lines.append("Eval: not run.")
    lines.append(win_rate_line(r.winrate))
    loss = next((c for c in r.curves if c.name.rsplit("/", 1)[-1] == "loss"), None)
    lines.append(f"Training: `{loss.name}` {fmt(loss.values[0])} → {fmt(loss.values[-1])} over "
                 f"{fmt(len(loss.values))} logged steps." if loss else "Training: no loss curve.")
    ran = [m for m in r.stage_metrics.values() if m]
    if ran:
        lines.append(f"Data: {fmt(ran[0].get('rows_in'))} rows in, {fmt(ran[-1].get('rows_kept'))} kept "
                     f"after {', '.join(s for s, m in r.stage_metrics.items() if m)}.")
    else:
        lines.append("Data: not run.")
    recorded = [s for _, s in r.timings if s is not None]
    lines.append(f"Time: {sum(recorded):,.1f} s recorded over {len(recorded)} stage runs.")
    return Section("Summary", [Text(line) for line in lines])


def fmt(v: Any, digits: int = 4) -> str:
    """Numbers for people: thousands separators, 4 significant digits, NaN spelled out."""
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, int) or (abs(v) >= 1000 and float(v).is_integer()):
        return f"{int(v):,}"
    return f"{v:.{digits}g}"


def run_identity(r: ReportInputs) -> Section:
    blocks: list = [Table(["field", "value"], [["git rev", f"`{r.git_rev}`"], ["DVC experiment", f"`{r.experiment}`"],
                                     ["params hash", f"`{r.params_hash or 'unknown (no params.yaml)'}`"]])]
    outs = [o for o in r.lock_outs if not o["path"].startswith("reports")]
    if outs:
        blocks.append(Table(["stage", "data / model", "md5", "size", "files"],
                            [[o["stage"], f"`{o['path']}`", f"`{o['md5'][:12]}`", _size(o["size"]),
                              fmt(o["nfiles"])] for o in outs], [False, False, False, True, True]))
    else:
        blocks.append(Text("No dvc.lock yet: data and model hashes appear after `dvc repro`.", note=True))
    return Section("Run identity", blocks)


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def params_changed(r: ReportInputs) -> Section:
    if r.params_diff is None:
        return Section("Params", [Text(f"not run: {r.params_note} (`make params` or `dvc exp run` writes "
                                       "params.yaml from params/).", note=True)])
    if not r.params_diff:
        return Section("Params", [Text("Every param has its default value (params/config.yaml).")])
    rows = [[f"`{d['key']}`", _param(d["default"]), _param(d["value"])] for d in r.params_diff]
    return Section("Params", [Text(f"{len(rows)} params differ from the defaults composed from params/config.yaml:"),
                              Table(["param", "default", "this run"], rows)])


def _param(v: Any) -> str | Cell:
    if v is ABSENT:
        return Cell("(absent)", "muted")
    text = fmt(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)
    return f"`{text if len(text) <= 80 else text[:77] + '...'}`"


def data_funnel(r: ReportInputs) -> Section:
    rows, ran = [], {}
    for stage, m in r.stage_metrics.items():
        if not m:
            rows.append([stage, NOT_RUN, "", "", ""])
            continue
        ran[stage] = m
        rules = ", ".join(f"{k}: {fmt(v)}" for k, v in sorted((m.get("rejected_by_rule") or {}).items(),
                                                               key=lambda kv: -kv[1])) or "—"
        rows.append([stage, fmt(m.get("rows_in")), fmt(m.get("rows_kept")), fmt(m.get("rows_rejected")), rules])
    blocks: list = [Table(["stage", "rows in", "kept", "rejected", "rejected by rule"], rows,
                          [False, True, True, True, False])]
    blocks += dedup_blocks(r.dedup) + contamination_blocks(r.contamination)
    blocks += rejected_examples(ran)
    if ran:
        blocks.append(Figure("funnel", figures.funnel(ran), "Rows kept and rejected per data stage"))
    return Section("Data", blocks)


def rejected_examples(ran: dict[str, dict]) -> list:
    """A few rejected rows per rule of every data stage (from its metrics file)."""
    rows = [[stage, rule, f"`{e.get('id')}`", _short(e.get("detail"), 100), _short(e.get("text"), 120)]
            for stage, m in ran.items() for rule, ex in sorted((m.get("rejected_examples") or {}).items())
            for e in ex]
    if not rows:
        return []
    return [Details("Rejected rows: a few per rule of every data stage (all of them: "
                    "`data/<stage>/rejected.parquet`)",
                    [Table(["stage", "rule", "row", "detail", "text"], rows)])]


def dedup_blocks(d: dict | None) -> list:
    if d is None:
        return [Text("Dedup clusters: **not run** (no clusters.json).")]
    parts = [f"Dedup clusters: **{fmt(d.get('clusters'))}**"]
    if "rows_in_clusters" in d:
        parts.append(f"{fmt(d['rows_in_clusters'])} rows in clusters; dropped {fmt(d.get('exact_dropped'))} exact "
                     f"and {fmt(d.get('near_dropped'))} near duplicates")
    if d.get("size_histogram"):
        parts.append("cluster sizes " + ", ".join(f"{k}: {v}" for k, v in d["size_histogram"].items()))
    parts.append("every member: `data/dedup/clusters.parquet`; benchmark hits: `data/dedup/contamination.parquet`")
    blocks: list = [Text(" · ".join(parts))]
    pairs = d.get("example_pairs") or []
    if pairs:
        rows = [[p.get("rule", ""), fmt(p.get("jaccard_estimate")), f"`{p.get('kept')}`",
                 _short(p.get("kept_text"), 120), f"`{p.get('dropped')}`", _short(p.get("dropped_text"), 120)]
                for p in pairs[:5]]
        blocks.append(Details(f"{min(5, len(pairs))} example duplicate pairs (least similar first)",
                              [Table(["rule", "Jaccard", "kept", "kept text", "dropped", "dropped text"], rows)]))
    return blocks


def contamination_blocks(c: dict | None) -> list:
    if c is None:
        return [Text("Contamination hits (benchmark overlap): **not run** (no contamination.json).")]
    if not c["enabled"]:
        return [Text("Contamination hits (benchmark overlap): **disabled** (`data.decontam.enabled=false`).")]
    by = ", ".join(f"{b}: {n}" for b, n in c["by_benchmark"].items())
    blocks: list = [Text(f"Contamination hits (benchmark overlap): **{fmt(len(c['hits']))}**"
                         + (f" ({by})" if by else "") + (f" · {fmt(c['ngram'])}-gram match" if c.get("ngram") else ""))]
    if c["hits"]:
        rows = [[f"`{h.get('id')}`", str(h.get("benchmark", "")), str(h.get("item", "")), _short(h.get("ngram"), 100)]
                for h in c["hits"][:10] if isinstance(h, dict)]
        blocks.append(Details(f"{len(rows)} of {len(c['hits'])} contaminated rows",
                              [Table(["row", "benchmark", "item", "matching n-gram"], rows)]))
    return blocks


def training(r: ReportInputs) -> Section:
    if r.train_metrics is None and not r.curves:
        return Section("Training", [Text("not run: no reports/metrics/train.json or training curves.", note=True)])
    blocks: list = []
    if r.train_metrics:
        flat = _flat_numbers(r.train_metrics)
        blocks.append(Table(["final metric", "value"], [[f"`{k}`", fmt(v)] for k, v in flat.items()],
                            [False, True]))
    if r.curves:
        summary = [[c.name, fmt(len(c.values)), fmt(c.values[0]), fmt(c.values[-1]), fmt(min(c.values)),
                    fmt(max(c.values))] for c in r.curves]
        blocks.append(Table(["curve", "points", "first", "last", "min", "max"], summary,
                            [False] + [True] * 5))
        blocks.append(Figure("training", figures.training_curves(r.curves),
                             "Training curves per step (DVCLive)"))
    else:
        blocks.append(Text("No training curves (reports/plots/train) were written.", note=True))
    return Section("Training", blocks)


def _flat_numbers(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat_numbers(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = v
    return out


def evaluation(rows: list[dict], cells: list | None = None, alpha: float = 0.05) -> Section:
    if not rows:
        return Section("Evaluation", [Text("not run: no reports/metrics/eval/<model>-<bench>.json.", note=True)])
    comp = evaltable.comparison(rows, cells)
    table = [[c["bench"], c["metric"], _score(c["base"]), _score(c["policy"]),
              _delta(c["delta"], _significant(c.get("paired"), alpha)),
              *_paired(c.get("paired"), alpha), fmt((c["policy"] or c["base"])["n"])] for c in comp]
    return Section("Evaluation", [
        Table(["benchmark", "metric", "base [95% CI]", "policy [95% CI]", "Δ policy − base",
               "paired Δ [95% CI]", "paired p", "n"],
              table, [False, False, True, True, True, True, True, True]),
        Text(f"Paired on the items both models answered: McNemar's exact test on 0/1 items (+gained/−lost "
             f"items), a paired bootstrap on fractional scores; Δ and p coloured only where p < {alpha:g}.", note=True),
        Figure("eval", figures.eval_bars(comp), "Base vs policy per benchmark (error bars: 95% CI)"),
        *[breakdown_details(b) for b in evaltable.breakdowns(cells or [])],
    ])


def breakdown_details(b: dict) -> Details:
    rows = [[g, _plain(base), _plain(policy), _delta(policy - base if base is not None and policy is not None
                                                     else None), fmt(n)] for g, base, policy, n in b["rows"]]
    return Details(f"{b['bench']} by {b['by']} ({len(rows)} groups)",
                   [Table([b["by"], "base", "policy", "Δ", "n"], rows, [False, True, True, True, True])])


def _plain(v: float | None) -> str:
    return "—" if v is None else ("NaN" if math.isnan(v) else f"{v:.3f}")


def _score(r: dict | None) -> str | Cell:
    if r is None:
        return NOT_RUN
    ci = f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" if r["ci_low"] is not None else ""
    return ("NaN" if math.isnan(r["value"]) else f"{r['value']:.3f}") + ci


def _delta(d: float | None, significant: bool = False) -> str | Cell:
    """A delta, green/red only when a paired test says it is not noise: a coloured +0.031 at
    p = 1 reads as a gain to a reviewer."""
    if d is None:
        return "—"
    return Cell(f"{d:+.3f}", ("good" if d > 0 else "bad" if d < 0 else None) if significant else None)


def _significant(t: dict | None, alpha: float) -> bool:
    return bool(t and t.get("n") and t["p_value"] < alpha and t["delta"])


def _paired(t: dict | None, alpha: float) -> list[str | Cell]:
    """[paired CI, p] cells; p coloured by the sign of the delta when significant."""
    ci, p = evaltable.paired_text(t)
    if _significant(t, alpha):
        return [ci, Cell(p, "good" if t["delta"] > 0 else "bad")]
    return [ci, p]


def win_rate_line(w: dict | None) -> str:
    if w is None:
        return "Win rate: not run."
    if w.get("skipped"):
        return f"Win rate: no preference data/RM ({w.get('reason')})."
    return (f"Win rate vs base (reward model judge): **{w['win_rate']:.3f}** [{w['ci_low']:.3f}, "
            f"{w['ci_high']:.3f}], sign test p={w['p_value']:.3g}, n={w['n']}.")


def win_rate(r: ReportInputs, alpha: float, per_cell: int) -> Section:
    """Policy vs base on the preference data's held-out prompts, judged by a reward model."""
    title, w = "Preference win rate", r.winrate
    if w is None:
        return Section(title, [Text("not run: no reports/metrics/winrate.json.", note=True)])
    if w.get("skipped"):
        return Section(title, [Text(f"Skipped: {w.get('reason')}. Train a reward model with "
                                    "`dvc exp run -S data=hh-rlhf -S train=rm`, copy its models/policy out "
                                    "and set `eval.winrate.rm` to that path.", note=True)])
    p = Cell(fmt(w["p_value"]), "good" if w["win_rate"] > 0.5 else "bad") if w["p_value"] < alpha \
        else fmt(w["p_value"])
    row = [f"{w['win_rate']:.3f} [{w['ci_low']:.3f}, {w['ci_high']:.3f}]",
           f"{w['wins']} / {w['ties']} / {w['losses']}", p, fmt(w.get("mean_margin")), fmt(w["n"]),
           f"`{w.get('rm')}`"]
    return Section(title, [
        Table(["win rate [95% CI]", "won / tied / lost", "sign test p", "mean reward margin", "n",
               "reward model"], [row], [True, True, True, True, True, False]),
        Text(f"Per prompt: 1 if the reward model scores the policy's answer higher, 0 if lower, 1/2 on a "
             f"tie; CI: {w.get('ci_method')}; p: exact two-sided sign test on the untied prompts "
             f"(coloured where p < {alpha:g}). Per prompt: `reports/metrics/items/winrate.json`.", note=True),
        *pair_details(r.winrate_samples, per_cell)])


def pair_details(rows: list[dict], k: int) -> list:
    """A few judged pairs: the policy's clearest wins and losses by reward margin."""
    if not rows:
        return []
    by_margin = sorted(rows, key=lambda s: s["policy_reward"] - s["base_reward"])
    chosen = by_margin[::-1][:(k + 1) // 2] + by_margin[:k // 2]
    inner: list = []
    for s in chosen:
        mark = {1.0: "policy won", 0.0: "base won"}.get(s["outcome"], "tie")
        inner.append(Text(f"**{mark}** · `{s['id']}` · reward policy {fmt(s['policy_reward'])}, "
                          f"base {fmt(s['base_reward'])}"))
        inner.append(Code(f"PROMPT:\n{_tail(_prompt_text(s['prompt']), 400)}\n\n"
                          f"POLICY:\n{_short(_squeeze(s['policy']), 500)}\n\n"
                          f"BASE:\n{_short(_squeeze(s['base']), 500)}"))
    return [Details(f"{len(chosen)} of {len(rows)} judged pairs (largest margins each way; all: "
                    "`data/eval/winrate/samples.jsonl`)", inner)]


def sample_outputs(r: ReportInputs, per_cell: int) -> Section:
    cells = [c for c in r.eval_cells if c.samples]
    if not cells:
        return Section("Sample outputs", [Text("not run: no data/eval/<model>-<bench>/samples.jsonl.", note=True)])
    blocks: list = []
    for c in cells:
        chosen = pick_samples(c.samples, per_cell)
        n_ok = sum(bool(s.get("correct")) for s in c.samples)
        inner: list = []
        for s in chosen:
            mark = "✅ correct" if s.get("correct") else "❌ wrong"
            inner.append(Text(f"**{mark}** · extracted {_code(s.get('extracted'))} · gold {_code(s.get('gold'))}"))
            inner.append(Code(f"PROMPT:\n{_tail(_prompt_text(s.get('prompt')), 500)}\n\n"
                              f"OUTPUT:\n{_short(_squeeze(s.get('output')), 700)}"))
        blocks.append(Details(f"{c.model} · {c.bench} — {n_ok} of {len(c.samples)} correct; "
                              f"{len(chosen)} shown", inner))
    return Section("Sample outputs", blocks)


def pick_samples(samples: list[dict], k: int) -> list[dict]:
    """Up to k samples, half correct and half wrong where both exist, in file order."""
    ok = [s for s in samples if s.get("correct")]
    bad = [s for s in samples if not s.get("correct")]
    n_ok = min(len(ok), max(k - len(bad), (k + 1) // 2))
    return ok[:n_ok] + bad[:k - n_ok]


def _prompt_text(p: Any) -> str:
    """The question: the last user turn of chat messages or of a chat-templated prompt (few-shot
    exemplars and the system turn come before it and would fill the excerpt)."""
    if isinstance(p, list):
        users = [m.get("content", "") for m in p if isinstance(m, dict) and m.get("role") == "user"]
        return users[-1] if users else str(p)
    text = "" if p is None else str(p)
    if USER_TURN in text:
        text = text.rsplit(USER_TURN, 1)[1].split(END_TURN, 1)[0].strip()
    return text


def _code(v: Any) -> str:
    text = _short(v, 60).replace("`", "'").strip()
    return f"`{text}`" if text else "—"


def _squeeze(v: Any) -> str:
    """Blank-line runs collapsed; an all-whitespace output said so instead of shown as a void."""
    text = "" if v is None else str(v)
    if not text.strip():
        return f"(empty: {len(text)} whitespace characters)" if text else "(empty)"
    return re.sub(r"\n\s*\n(\s*\n)+", "\n\n", text.strip("\n"))


def _tail(v: Any, n: int) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= n else "…" + s[-(n - 1):]


def _short(v: Any, n: int) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= n else s[:n - 1] + "…"


def timings(r: ReportInputs) -> Section:
    rows = [[stage, f"{s:,.1f}" if s is not None else Cell("not recorded", "muted")] for stage, s in r.timings]
    total = sum(s for _, s in r.timings if s is not None)
    rows.append(["**total (recorded)**", f"**{total:,.1f}**"])
    return Section("Timings", [Table(["stage", "seconds"], rows, [False, True]),
                               Text("Each stage writes its wall time as `seconds` in its metrics json.", note=True)])
