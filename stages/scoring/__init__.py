"""What data, rewards and eval share: answer extraction, math equivalence, the code sandbox.

A library below all of them (it imports nothing else from `stages`), so a stage's import
closure holds exactly the scoring code it uses: a reward depends on this package, never on eval.
"""
