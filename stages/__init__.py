"""lmforge: LLM post-training experiments as DVC stages. Run a stage with `python -m stages.<stage>`."""
