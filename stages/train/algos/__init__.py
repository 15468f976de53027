"""One module per trainer; importing a module registers it in stages.train.trainers.TRAINERS.

Each module also declares KEYS: the `train:` keys its trainer reads (a params.check_keys
schema), so a typo anywhere in `train:` fails before training, naming the nearest key.
"""
import importlib
import pkgutil
import sys


def load_all() -> None:
    """Import every module of this package so each registers itself."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def keys(trainer: str) -> dict:
    """The `train:` key schema of the registered trainer `trainer` (its module's KEYS)."""
    from stages.train import trainers

    return sys.modules[trainers.get(trainer).__module__].KEYS
