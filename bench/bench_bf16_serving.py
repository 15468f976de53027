"""How much of a float32 fine-tune does bf16 serving keep?

    dvc exp run -S train.bf16=false train      # a float32-trained SFT policy in models/policy
    python bench/bench_bf16_serving.py models/base models/policy data/format/sft/val.parquet

A fine-tune moves most weights by far less than one bf16 step, so serving the policy in bf16
(`eval.dtype=auto` on a CPU with bf16 units) rounds most of the update away, and where the base's
weights sit on bf16 rounding ties (a GGUF-quantised base) a tiny update flips whole steps. For
each fraction `eps` of the update (base + eps * (policy - base): a smaller fine-tune, such as an
RL run at lr 1e-6), prints the held-out SFT loss (mean NLL per answer token over the val rows) in
float32 and under bf16 autocast, each one's gain over the base, and the ratio kept = bf16 gain /
float32 gain (1.0: bf16 serving reports the fine-tune as it is).
"""
from __future__ import annotations

import argparse
import contextlib
import json


def batches(tok, path: str, rows: int, size: int = 8):
    """(input_ids, labels, attention_mask) batches; loss on the assistant turn only."""
    import polars as pl
    import torch

    data = pl.read_parquet(path).head(rows).to_dicts()
    for i in range(0, len(data), size):
        ids, labels = [], []
        for row in data[i:i + size]:
            msgs = row["messages"]
            prompt = tok.apply_chat_template(msgs[:1], tokenize=False, add_generation_prompt=True)
            n_prompt = len(tok(prompt, add_special_tokens=False).input_ids)
            full = tok(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False).input_ids
            ids.append(full)
            labels.append([-100] * n_prompt + full[n_prompt:])
        width = max(map(len, ids))
        yield (torch.tensor([x + [0] * (width - len(x)) for x in ids]),
               torch.tensor([x + [-100] * (width - len(x)) for x in labels]),
               torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids]))


def held_out_loss(model, data, bf16: bool) -> float:
    import torch

    total, tokens = 0.0, 0
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    for ids, labels, mask in data:
        with torch.inference_mode(), ctx:
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
        total += float(torch.nn.functional.cross_entropy(
            logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), reduction="sum"))
        tokens += int((labels[:, 1:] != -100).sum())
    return total / tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base_dir")
    ap.add_argument("policy_dir")
    ap.add_argument("val_parquet")
    ap.add_argument("--rows", type=int, default=64, help="val rows scored")
    ap.add_argument("--eps", default="0.01,0.03,0.1,0.3,1", help="fractions of the update")
    args = ap.parse_args()

    import torch
    from safetensors.torch import load_file
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(args.base_dir)
    model = AutoModelForCausalLM.from_pretrained(args.base_dir, dtype=torch.float32).eval()
    base = {k: v.clone() for k, v in model.state_dict().items()}
    policy = load_file(f"{args.policy_dir}/model.safetensors")
    data = list(batches(tok, args.val_parquet, args.rows))
    base32, base16 = held_out_loss(model, data, False), held_out_loss(model, data, True)
    rows = []
    for eps in tqdm([float(e) for e in args.eps.split(",")], desc="fractions"):
        model.load_state_dict({k: v + eps * (policy[k].float() - v) if k in policy else v
                               for k, v in base.items()})
        f32, b16 = held_out_loss(model, data, False), held_out_loss(model, data, True)
        rows.append({"eps": eps, "float32": round(f32, 4), "bf16": round(b16, 4),
                     "kept": round((base16 - b16) / (base32 - f32), 2)})
        print(f"eps {eps:g}: float32 {f32:.4f} (gain {base32 - f32:.4f}), bf16 {b16:.4f} "
              f"(gain {base16 - b16:.4f}), kept {rows[-1]['kept']:.2f}", flush=True)
    print(json.dumps({"bench": "bf16_serving_of_a_float32_fine_tune", "base_float32": round(base32, 4),
                      "base_bf16": round(base16, 4), "fractions": rows}))


if __name__ == "__main__":
    main()
