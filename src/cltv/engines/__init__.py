"""Where the work runs when the data outgrow pandas on one machine: :mod:`cltv.engines.spark`."""
