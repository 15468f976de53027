"""Data the verl tests share: real GSM8K / MATH-500 samples, and one batch laid out both the
way verl's reward loop and trainer hold it (DataProto) and the way the local RL loop does."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
RL_ALGOS = ["grpo", "dr_grpo", "ppo", "rloo", "reinforce_pp", "remax", "dapo", "gspo"]


def _jsonl(path: Path, n: int) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f)]


def gsm8k_rows(datasets_dir: Path, n: int) -> list[dict]:
    """{id, question, answer, gold}: the test split's reference solutions and `#### N` values."""
    return [{"id": f"gsm8k:{i}", "question": r["question"], "answer": r["answer"],
             "gold": r["answer"].split("####")[-1].strip()}
            for i, r in enumerate(_jsonl(datasets_dir / "gsm8k" / "test.jsonl", n))]


def wrong_gsm8k(answer: str) -> str:
    """The same reasoning with a different final `#### N`."""
    text, gold = answer.split("####")
    return f"{re.sub(r'[0-9]', '7', text)}#### {int(gold.replace(',', '').strip()) + 1}"


def samples(datasets_dir: Path, n_each: int = 6) -> list[dict]:
    """Scored samples {data_source, prompt, response, ground_truth}: real GSM8K and MATH-500
    reference solutions, each also with a wrong final answer, so rewards are a mix of 1 and 0."""
    out = []
    for r in gsm8k_rows(datasets_dir, n_each):
        for resp in (r["answer"], wrong_gsm8k(r["answer"])):
            out.append({"data_source": "gsm8k", "prompt": r["question"], "response": resp,
                        "ground_truth": r["gold"]})
    for r in _jsonl(datasets_dir / "math500" / "test.jsonl", n_each):
        for resp in (r["solution"], r["solution"].replace("\\boxed{", "\\boxed{9")):
            out.append({"data_source": "math500", "prompt": r["problem"], "response": resp,
                        "ground_truth": r["answer"]})
    return out


def batch(tok, rows: list[dict], uids: list[str], max_response: int = 512):
    """(verl DataProto, local-loop tensors) for prompt/response text pairs: prompts left-padded,
    responses right-padded, as verl's agent loop and the local rollout both lay them out."""
    import torch
    from verl import DataProto

    pad = tok.pad_token_id
    p_ids = [tok.apply_chat_template([{"role": "user", "content": r["prompt"]}], tokenize=True,
                                     add_generation_prompt=True, return_dict=False) for r in rows]
    r_ids = [tok(r["response"], add_special_tokens=False)["input_ids"][:max_response] + [tok.eos_token_id]
             for r in rows]
    P, R = max(map(len, p_ids)), max(map(len, r_ids))
    prompts = torch.tensor([[pad] * (P - len(p)) + p for p in p_ids])
    responses = torch.tensor([r + [pad] * (R - len(r)) for r in r_ids])
    p_mask = torch.tensor([[0] * (P - len(p)) + [1] * len(p) for p in p_ids])
    r_mask = torch.tensor([[1] * len(r) + [0] * (R - len(r)) for r in r_ids])
    attention = torch.cat([p_mask, r_mask], dim=1)
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], 1),
                 "attention_mask": attention, "response_mask": r_mask},
        non_tensors={"data_source": np.array([r["data_source"] for r in rows], dtype=object),
                     "reward_model": np.array([{"style": "rule", "ground_truth": r["ground_truth"]}
                                               for r in rows], dtype=object),
                     "extra_info": np.array([{"index": i} for i in range(len(rows))], dtype=object),
                     "uid": np.array(uids, dtype=object)})
    return data, {"responses": responses, "response_mask": r_mask, "attention_mask": attention,
                  "texts": tok.batch_decode(responses, skip_special_tokens=True)}
