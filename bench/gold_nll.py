"""A policy's negative log-likelihood of GSM8K's worked answers, per item, in float32.

    python bench/gold_nll.py models/policy --items 128      # in a workspace: prints JSON {id: nll}

Near GSM8K's floor a 135M policy's accuracy moves by a few answers, so it cannot tell two
training recipes apart; the likelihood of the reference solution (the eval prompt through the
model's chat template, then the worked answer without its `<<...>>` calculator notes) moves
smoothly with the model and pairs item by item. Items are the GSM8K cell's own draw
(eval.benchmarks.gsm8k: source, subset_seed), ids as the cell writes them (`gsm8k:<row>`).
The value is the mean NLL per answer token (nats).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def gold_nll(model_dir: str, items: int) -> dict[str, float]:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from stages.common import params
    from stages.eval import data
    from stages.eval.benchmarks.answer import CALC, fill
    from stages.eval.engines import render

    cfg = params.load().eval.benchmarks.gsm8k
    rows = data.load_rows(cfg.source, cfg.get("hf_config"), cfg.get("split"), cfg.get("revision"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = {}
    for i, row in tqdm(data.subset(rows, items, cfg.subset_seed), desc="gold NLL", file=sys.stderr):
        prompt = render(tok, [{"role": "user", "content": fill(cfg.instruction, row, "gsm8k")}])
        p_ids = tok(prompt, add_special_tokens=False).input_ids
        a_ids = tok(CALC.sub("", row[cfg.gold]).strip() + tok.eos_token, add_special_tokens=False).input_ids
        ids = torch.tensor([p_ids + a_ids])
        labels = ids.clone()
        labels[0, :len(p_ids)] = -100
        with torch.inference_mode():
            out[f"gsm8k:{i}"] = round(float(model(input_ids=ids, labels=labels).loss), 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--items", type=int, default=128)
    args = ap.parse_args()
    print(json.dumps(gold_nll(args.model_dir, args.items)))


if __name__ == "__main__":
    main()
