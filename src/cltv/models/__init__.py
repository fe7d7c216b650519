"""The models cltv fits, by the name a config uses (``model/purchases``, ``model/spend``): the one
registry of model kinds (the config schema, the benchmarks and the simulators read it).

Every module of this package is imported here, and every class in it that subclasses
:class:`~cltv.models.purchase.PurchaseModel` or :class:`~cltv.models.spend.SpendModel` and sets
``kind`` is a model by that name: a new model is one module here plus its config file
(docs/models.md). Today: purchase models ``bgnbd``, ``mbgnbd``, ``paretonbd``; spend model
``gamma_gamma``.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from .purchase import PurchaseModel
from .spend import SpendModel


def _registry(base: type) -> dict:
    """``kind -> class`` of the concrete subclasses of ``base`` in this package, by module name."""
    found, todo = {}, list(base.__subclasses__())
    while todo:
        cls = todo.pop(0)
        todo.extend(cls.__subclasses__())
        if "kind" in vars(cls) and cls.__module__.startswith(f"{__name__}."):
            if cls.kind in found and found[cls.kind] is not cls:
                raise TypeError(f"two models are named {cls.kind!r}: {found[cls.kind].__module__} and {cls.__module__}")
            found[cls.kind] = cls
    return dict(sorted(found.items(), key=lambda item: (item[1].__module__, item[0])))


for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = _registry(PurchaseModel)
SPEND_MODELS: dict[str, type[SpendModel]] = _registry(SpendModel)


def purchase_model(kind: str) -> type[PurchaseModel]:
    """The purchase model class named ``kind``; ConfigError listing the choices otherwise."""
    if kind not in PURCHASE_MODELS:
        raise ConfigError(f"unknown purchase model {kind!r}; choose one of {sorted(PURCHASE_MODELS)}")
    return PURCHASE_MODELS[kind]


def spend_model(kind: str) -> type[SpendModel]:
    """The spend model class named ``kind``; ConfigError listing the choices otherwise."""
    if kind not in SPEND_MODELS:
        raise ConfigError(f"unknown spend model {kind!r}; choose one of {sorted(SPEND_MODELS)}")
    return SPEND_MODELS[kind]
