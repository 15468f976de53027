"""The numbers the report fixture workspace holds; tests compare the rendered report to them."""

FUNNEL = {  # stage -> (rows_in, {rule: rejected})
    "ingest": (400, {"malformed_json": 2}),
    "clean": (398, {"empty_prompt": 3, "too_long": 5}),
    "dedup": (390, {"near_duplicate": 9, "contaminated": 2}),
    "quality": (379, {"low_score": 11}),
    "format": (368, {}),
}
EVAL = {  # (model, bench) -> metrics json
    ("base", "gsm8k"): {"n": 8, "accuracy": 0.125, "ci_low": 0.022, "ci_high": 0.471,
                        "strict": {"accuracy": 0.125, "ci_low": 0.022, "ci_high": 0.471},
                        "flexible": {"accuracy": 0.25, "ci_low": 0.071, "ci_high": 0.591}, "seconds": 12.5},
    ("policy", "gsm8k"): {"n": 8, "accuracy": 0.5, "ci_low": 0.215, "ci_high": 0.785,
                          "strict": {"accuracy": 0.5, "ci_low": 0.215, "ci_high": 0.785},
                          "flexible": {"accuracy": 0.625, "ci_low": 0.306, "ci_high": 0.863}, "seconds": 13.0},
    ("base", "humaneval"): {"n": 4, "pass@1": 0.25, "ci_low": 0.046, "ci_high": 0.699, "seconds": 20.0},
    ("policy", "humaneval"): {"n": 4, "pass@1": 0.0, "ci_low": 0.0, "ci_high": 0.49, "seconds": 21.5},
}
CURVES = {"train/loss": [2.5, 2.1, 1.8, 1.5, 1.3, 1.2], "train/learning_rate": [1e-4] * 6,
          "kl": [0.0, 0.01, 0.03, 0.04, 0.05, 0.05]}
TRAIN = {"train_loss": 1.73, "final_loss": 1.2, "steps": 6, "seconds": 95.25}
