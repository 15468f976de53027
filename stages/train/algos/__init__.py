"""One module per trainer; importing a module registers it in stages.train.trainers.TRAINERS."""
import importlib
import pkgutil


def load_all() -> None:
    """Import every module of this package so each registers itself."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
