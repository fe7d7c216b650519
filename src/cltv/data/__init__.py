"""Where customer histories come from, and the RFM table made of them.

- :mod:`cltv.data.spec`: :class:`~cltv.data.spec.DataSpec`, every data rule of ``prepare`` in one
  object (built from the ``data.*`` config, recorded in the model JSON as ``data_rules``);
- :mod:`cltv.data.prepare`: the one preparation path: a file and a spec -> daily and RFM tables
  (the ``prepare`` stage) or the RFM table as of a date (``cltv score``);
- :mod:`cltv.data.files`: the one file reader (CSV, ``.csv.gz``, Parquet, Excel) of logs and snapshots;
- :mod:`cltv.data.cdnow`: CDNOW from the ``lifetimes`` wheel; the plain transaction-log loader;
- :mod:`cltv.data.transactions`: retail exports by configuration (invoice lines, cancellations,
  guests, time zones, Excel) and the data-quality account;
- :mod:`cltv.data.flo`: the FLO omnichannel snapshot (one row per customer);
- :mod:`cltv.data.rfm`: daily purchases, RFM and the calibration/holdout split (weeks);
- :mod:`cltv.data.simulate`, :mod:`cltv.data.simulate_invoices`: data with known true parameters.
"""
from ..errors import DataError
from .cdnow import cdnow_path, load_cdnow, load_transactions
from .files import read_table

__all__ = ["DataError", "cdnow_path", "load_cdnow", "load_transactions", "read_table"]
