"""Bounded load test of a running `mlflow models serve`: concurrent clients on loopback sending a
mix of valid and bad requests for a fixed time; prints throughput and latency percentiles.

    python benchmarks/load_test.py http://127.0.0.1:5001 [--clients 8] [--seconds 60]

Counts as failures: any 5xx, any dropped or refused connection, a valid request not answered
with 200 or a bad one not answered with 4xx. Exit code 1 if there is any.
"""
from __future__ import annotations

import argparse
import json
import threading
import time

import numpy as np
import requests

VALID = [
    {"dataframe_records": [{"customer_id": "c1", "frequency": 3, "recency": 49.29, "T": 77.86, "monetary_value": 23.72}]},
    {"dataframe_split": {"columns": ["frequency", "recency", "T", "monetary_value"],
                         "data": [[k % 7, (k % 7) * 5.0, 40.0 + k % 30, 10.0 + k % 50] for k in range(100)]}},
]
BAD = [
    '{"dataframe_records": [{"frequency": -1, "recency": 0, "T": 10, "monetary_value": 0}]}',
    '{"dataframe_records": [{"frequency": true, "recency": 3, "T": 10, "monetary_value": 5}]}',
    '{"dataframe_records": [{"recency": 3, "T": 10}]}',
    '{"dataframe_records": [',
    '{"dataframe_records": []}',
]


def run(url: str, clients: int, seconds: float) -> dict:
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def client(k: int) -> None:
        session = requests.Session()
        i = k
        while time.monotonic() < stop:
            i += 1
            valid = i % 3 != 0
            body = json.dumps(VALID[i % len(VALID)]) if valid else BAD[i % len(BAD)]
            start = time.perf_counter()
            try:
                resp = session.post(f"{url}/invocations", data=body, timeout=30,
                                    headers={"Content-Type": "application/json"})
                ok = resp.status_code == 200 if valid else 400 <= resp.status_code < 500
                problem = None if ok else f"{resp.status_code} for {'valid' if valid else 'bad'} request {body[:60]}"
            except requests.RequestException as exc:
                problem = f"connection: {exc}"
            with lock:
                latencies.append(time.perf_counter() - start)
                if problem:
                    failures.append(problem)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    lat = np.array(latencies) * 1000
    after = requests.post(f"{url}/invocations", data=json.dumps(VALID[0]), timeout=30,
                          headers={"Content-Type": "application/json"})
    return {"requests": len(lat), "seconds": elapsed, "throughput_rps": len(lat) / elapsed,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "failures": failures, "answers_afterwards": after.status_code == 200}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    res = run(args.url, args.clients, args.seconds)
    print(f"{res['requests']} requests in {res['seconds']:.1f} s from {args.clients} clients: "
          f"{res['throughput_rps']:.1f} req/s, p50 {res['p50_ms']:.1f} ms, p99 {res['p99_ms']:.1f} ms; "
          f"failures {len(res['failures'])}; answers afterwards: {res['answers_afterwards']}")
    for f in res["failures"][:10]:
        print("  failure:", f)
    raise SystemExit(1 if res["failures"] or not res["answers_afterwards"] else 0)


if __name__ == "__main__":
    main()
