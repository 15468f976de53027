"""Evaluation: benchmarks (data + pure scorer), engines (hf, vllm), the code sandbox, metrics.

Shared with RL rewards: `extract` (GSM8K / boxed answers), `math_equiv.math_equal`,
`sandbox.run_program` / `sandbox.run_many`.
"""
