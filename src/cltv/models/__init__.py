"""The models cltv fits, by the name a config uses (``model/purchases``, ``model/spend``).

Purchase models (:class:`cltv.models.base.PurchaseModel`): ``bgnbd``, ``mbgnbd``, ``paretonbd``.
Spend models: ``gamma_gamma``. A new model is one module here and one entry below.
"""
from __future__ import annotations

from .base import PurchaseModel
from .bgnbd import BGNBD
from .gamma_gamma import GammaGamma
from .mbgnbd import MBGNBD
from .paretonbd import ParetoNBD

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {m.kind: m for m in (BGNBD, MBGNBD, ParetoNBD)}
SPEND_MODELS: dict[str, type[GammaGamma]] = {m.kind: m for m in (GammaGamma,)}


def purchase_model(kind: str) -> type[PurchaseModel]:
    """The purchase model class named ``kind``; ValueError listing the choices otherwise."""
    if kind not in PURCHASE_MODELS:
        raise ValueError(f"unknown purchase model {kind!r}; choose one of {sorted(PURCHASE_MODELS)}")
    return PURCHASE_MODELS[kind]


def spend_model(kind: str) -> type[GammaGamma]:
    """The spend model class named ``kind``; ValueError listing the choices otherwise."""
    if kind not in SPEND_MODELS:
        raise ValueError(f"unknown spend model {kind!r}; choose one of {sorted(SPEND_MODELS)}")
    return SPEND_MODELS[kind]
