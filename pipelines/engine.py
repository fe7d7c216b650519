"""The Spark session of ``engine.*`` for the stages that run on Spark (prepare, train, segment)."""
from __future__ import annotations


def spark_session(p: dict):
    """A session on ``engine.master`` with ``engine.shuffle_partitions`` and ``engine.driver_memory``."""
    from cltv.engines import spark

    e = p["engine"]
    return spark.session(e["master"], e["shuffle_partitions"], e["driver_memory"])
