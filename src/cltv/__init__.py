"""cltv: customer lifetime value from repeat-purchase histories (see the README).

The public API, importable from the package:

- :class:`CLTVModel` (:mod:`cltv.model`): a purchase model (BG/NBD, MBG/NBD, Pareto/NBD, in
  :mod:`cltv.models`) + Gamma-Gamma, fit on an RFM table, predict expected purchases, P(alive),
  expected spend, CLV and segments; saved and loaded as JSON;
- :func:`validate_rfm` (:mod:`cltv.schema`): the one check of an RFM table;
- :func:`load_transactions`, :func:`daily_purchases`, :func:`rfm_table`,
  :func:`calibration_holdout`: a transaction log to RFM tables (:mod:`cltv.data`, :mod:`cltv.data.rfm`);
- the command ``cltv score`` (:mod:`cltv.cli`): batch scoring with a registered model.

Names are resolved on first use, so importing one module does not import the others.
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "CLTVModel": ("cltv.model", "CLTVModel"),
    "validate_rfm": ("cltv.schema", "validate_rfm"),
    "load_transactions": ("cltv.data", "load_transactions"),
    "daily_purchases": ("cltv.data.rfm", "daily_purchases"),
    "rfm_table": ("cltv.data.rfm", "rfm"),
    "calibration_holdout": ("cltv.data.rfm", "calibration_holdout"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'cltv' has no attribute {name!r}")
    module, attribute = _PUBLIC[name]
    return getattr(importlib.import_module(module), attribute)
