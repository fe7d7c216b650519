"""The packaged pyfunc model through a real (temporary) sqlite tracking store and Model Registry,
and a real `mlflow models serve` answering valid and bad requests over HTTP."""
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from cltv import serving
from cltv.model import CLTVModel
from cltv.schema import RFM_COLUMNS, interval_columns, missing_columns

from benchmarks.server import serve

NAME = "cltv"


@pytest.fixture(scope="module")
def store(tmp_path_factory, sample_model):
    """A sqlite store with the CDNOW-sample model registered as version 1, alias champion."""
    d = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{d}/mlflow.db"
    sample_model.save(d / "model.json")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        exp = mlflow.create_experiment("test", artifact_location=(d / "mlruns").as_uri())
        with mlflow.start_run(experiment_id=exp):
            info = serving.log_model(d / "model.json", pd.DataFrame(
                {"customer_id": ["a", "b"], "frequency": [0, 3], "recency": [0, 20.5], "T": [30, 38],
                 "monetary_value": [0, 25.0]}), registered_model_name=NAME)
        MlflowClient().set_registered_model_alias(NAME, "champion", info.registered_model_version)
        yield {"uri": uri, "dir": d, "info": info}
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def requests_rfm(sample_ch) -> pd.DataFrame:
    return sample_ch[["customer_id", *RFM_COLUMNS]].astype({"frequency": float})


def test_registered_pyfunc_predicts_what_the_model_predicts(store, sample_model, requests_rfm):
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
    got = loaded.predict(requests_rfm)
    want = sample_model.predict(requests_rfm)
    assert list(got.columns) == ["customer_id", "expected_purchases_3m", "expected_purchases_6m",
                                 "p_alive", "expected_value", "clv", *interval_columns((3, 6), 12),
                                 "segment", "segment_span"]  # RFM not echoed
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=True)
    as_written = requests_rfm.astype({"frequency": "int64"})  # an integer column, as the pipeline writes it
    pd.testing.assert_frame_equal(loaded.predict(as_written), got, check_exact=True)
    # one customer alone gets the segment it has within the population (cut-offs frozen at training)
    alone = loaded.predict(requests_rfm.iloc[[1]])
    assert alone["segment"].iloc[0] == want["segment"].iloc[1]


def test_logging_warns_nothing_and_pickles_nothing(store, caplog):
    with caplog.at_level(logging.WARNING), mlflow.start_run(experiment_id=MlflowClient().get_experiment_by_name(
            "test").experiment_id):
        info = serving.log_model(store["dir"] / "model.json", pd.DataFrame(
            {"frequency": [1.0], "recency": [2.0], "T": [3.0], "monetary_value": [4.0]}))
    assert not [r for r in caplog.records if r.name.startswith("mlflow") and r.levelno >= logging.WARNING]
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    files = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    assert "artifacts/model.json" in files and "code/cltv/model.py" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pyc"))]
    assert "code/cltv/models/paretonbd.py" in files  # the whole package, subpackages included
    assert json.loads((local / "artifacts/model.json").read_text())["format"] == "cltv-model/2"


def test_bad_example_fails_at_logging(store):
    with mlflow.start_run(experiment_id=MlflowClient().get_experiment_by_name("test").experiment_id):
        with pytest.raises(serving.RequestError, match="recency"):
            serving.log_model(store["dir"] / "model.json", pd.DataFrame(
                {"frequency": [1.0], "recency": [5.0], "T": [3.0], "monetary_value": [4.0]}))


# --------------------------------------------------------------------------- real server
@pytest.fixture(scope="module")
def server(store):
    with serve(f"models:/{NAME}@champion", store["uri"], store["dir"]) as url:
        yield url


def post(url: str, body, content_type: str = "application/json") -> requests.Response:
    data = json.dumps(body) if isinstance(body, (dict, list)) else body  # text, bytes or a generator of chunks
    return requests.post(f"{url}/invocations", data=data, headers={"Content-Type": content_type}, timeout=60)


def test_server_scores_split_and_records(server, sample_model, requests_rfm):
    rows = requests_rfm.iloc[:50]
    want = sample_model.predict(rows)
    split = post(server, {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}})
    records = post(server, {"dataframe_records": rows.to_dict(orient="records")})
    for resp in (split, records):
        assert resp.status_code == 200, resp.text
        got = pd.DataFrame(resp.json()["predictions"])
        assert list(got["customer_id"]) == list(want["customer_id"])
        assert list(got["segment"]) == list(want["segment"])
        for col in ("expected_purchases_3m", "expected_purchases_6m", "p_alive", "expected_value", "clv",
                    *interval_columns((3, 6), 12)):
            np.testing.assert_allclose(got[col], want[col], rtol=1e-15)
        assert list(got["segment_span"]) == list(want["segment_span"])
    # integers in JSON are fine; customer_id is optional
    one = post(server, {"dataframe_records": [{"frequency": 2, "recency": 30, "T": 39, "monetary_value": 20}]})
    assert one.status_code == 200 and "customer_id" not in one.json()["predictions"][0]


VALID = {"customer_id": "c1", "frequency": 2, "recency": 30.5, "T": 39, "monetary_value": 20.0}


def record(**changes):
    row = {**VALID, **changes}
    return {"dataframe_records": [{k: v for k, v in row.items() if v is not ...}]}


BAD_REQUESTS = {
    "missing column": (record(T=...), "T"),
    "wrong type": (record(frequency="two"), "frequency"),
    "negative frequency": (record(frequency=-1), "frequency"),
    "fractional frequency": (record(frequency=2.5), "frequency"),
    "recency > T": (record(recency=40), "recency"),
    "recency > 0 with frequency 0": (record(frequency=0, monetary_value=0), "recency"),
    "negative monetary": (record(monetary_value=-5), "monetary_value"),
    "null": (record(recency=None), "recency"),
    "NaN": ('{"dataframe_records": [{"frequency": 2, "recency": NaN, "T": 39, "monetary_value": 20}]}', "recency"),
    "empty payload": ({"dataframe_records": []}, "frequency"),
    "empty body": ("", "JSON"),
    "malformed JSON": ('{"dataframe_records": [{"frequency": 2,', "JSON"),
    "no data key": ({"rows": [VALID]}, "dataframe_records"),
    "nested value": (record(monetary_value=[[[[1.0]]]]), "monetary_value"),
    "object value": (record(T={"weeks": 39}), "T"),
    "huge number": (record(monetary_value=1e300), "monetary_value"),
    "infinity": ('{"dataframe_records": [{"frequency": 2, "recency": 3, "T": Infinity, "monetary_value": 20}]}', "T"),
    "negative T": (record(T=-1, recency=0, frequency=0, monetary_value=0), "T"),
    "unknown columns only": ({"dataframe_records": [{"foo": 1, "bar": 2}]}, "frequency"),
    "records not objects": ({"dataframe_records": [[2, 30, 39, 20]]}, "frequency"),
    "null record": ({"dataframe_records": [None]}, "frequency"),
    "records as a dict": ({"dataframe_records": VALID}, "list of records"),
    "split without data": ({"dataframe_split": {"columns": ["frequency"]}}, "data"),
    "split rows too short": ({"dataframe_split": {"columns": ["frequency", "recency", "T", "monetary_value"],
                                                  "data": [[2, 30, 39]]}}, "columns"),
    "split without columns": ({"dataframe_split": {"data": [[2, 30, 39, 20]]}}, "frequency"),
    "duplicate columns": ({"dataframe_split": {"columns": ["frequency", "frequency", "recency", "T", "monetary_value"],
                                               "data": [[2, 2, 30, 39, 20]]}}, "frequency"),
    "two data keys": ({"dataframe_records": [VALID], "dataframe_split": {}}, "exactly one"),
    "a bare string": ('"score me"', "JSON dictionary"),
    "customer_id as a list": (record(customer_id=["a", "b"]), "customer_id"),
    "integer of 400 digits": ('{"dataframe_records": [{"frequency": 2, "recency": 3, "T": 9, "monetary_value": 1'
                              + "0" * 400 + '}]}', "monetary_value"),
    "too many rows": ({"dataframe_records": [VALID] * 60_000}, "rows"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_server_refuses_bad_requests_with_4xx(server, case):
    body, field = BAD_REQUESTS[case]
    resp = post(server, body)
    assert 400 <= resp.status_code < 500, (case, resp.status_code, resp.text)
    message = resp.json()["message"]
    assert field in message, (case, message)
    assert "Traceback" not in resp.text and "File \"" not in resp.text and "stack_trace" not in resp.json()
    assert "/site-packages/" not in resp.text


@pytest.mark.parametrize("drop", [["T"], ["frequency", "monetary_value"], ["frequency", "recency", "T", "monetary_value"]])
def test_a_request_without_columns_gets_the_pipelines_message(server, sample_model, drop):
    """MLflow's signature check answers first; its message (with a dump of the request) is said as
    the pipeline says it, and a Python call says the same."""
    row = {k: v for k, v in {**VALID, "extra": 1}.items() if k not in drop}
    resp = post(server, {"dataframe_records": [row]})
    assert resp.status_code == 400 and resp.json()["message"] == missing_columns(drop), resp.text
    with pytest.raises(serving.RequestError) as raised:
        serving.score(sample_model, pd.DataFrame([row]))
    assert str(raised.value) == missing_columns(drop)


def test_server_answers_hostile_bodies_with_4xx_and_stays_responsive(server):
    deep = post(server, '{"dataframe_records": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert deep.status_code == 400 and "Traceback" not in deep.text
    started = time.monotonic()
    huge = requests.post(f"{server}/invocations", data=b"{" + b" " * (64 << 20) + b"}",
                         headers={"Content-Type": "application/json"}, timeout=60)
    assert huge.status_code == 413 and "more than" in huge.json()["message"]
    assert time.monotonic() - started < 5
    assert post(server, record()).status_code == 200  # still serving


#: what one request may cost the server, in MB of resident memory above its idle size (README)
WORST_REQUEST_MB = 250


def test_hostile_bodies_get_4xx_with_bounded_memory(store, tmp_path):
    """A Parquet body that declares 20 million rows, 300 MiB sent with and without a length, a
    body that never finishes, and the largest request allowed: each a 4xx or 200 in JSON, the
    server's memory bounded (a fresh server, so its peak is these requests')."""
    import io
    import socket
    import threading

    import pyarrow as pa
    import pyarrow.parquet as pq

    from benchmarks.server import memory_mb

    bomb = io.BytesIO()
    pq.write_table(pa.table({"frequency": np.zeros(20_000_000)}), bomb, compression="zstd", row_group_size=1 << 24)
    assert len(bomb.getvalue()) < 1 << 20  # under a megabyte on the wire
    answers = {}
    with serve(f"models:/{NAME}@champion", store["uri"], store["dir"]) as url:
        assert post(url, record()).status_code == 200
        idle = memory_mb(url.pgid)[0]

        def slow():  # headers and a few bytes, then nothing
            host, port = url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as conn:
                conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{\"dataframe_records\"")
                conn.settimeout(120)
                answer = b""
                while b"\r\n\r\n" not in answer or len(answer.partition(b"\r\n\r\n")[2]) < int(
                        answer.lower().partition(b"content-length:")[2].split(b"\r\n")[0] or 0):
                    chunk = conn.recv(1 << 16)  # headers and body may come in separate packets
                    if not chunk:
                        break
                    answer += chunk
                answers["slow"] = answer.decode()

        slow_client = threading.Thread(target=slow)
        slow_client.start()
        answers["bomb"] = post(url, bomb.getvalue(), content_type="application/vnd.apache.parquet")
        answers["long"] = post(url, b"{" + b" " * (300 << 20) + b"}")
        answers["chunked"] = post(url, (b" " * (1 << 20) for _ in range(300)))  # no length: Transfer-Encoding chunked
        answers["largest"] = post(url, {"dataframe_records": [VALID] * serving.MAX_ROWS})
        slow_client.join(timeout=120)
        now, peak = memory_mb(url.pgid)
    assert answers["bomb"].status_code == 400 and "20,000,000 rows" in answers["bomb"].json()["message"]
    for name in ("long", "chunked"):
        assert answers[name].status_code == 413 and "more than 16,777,216 bytes" in answers[name].json()["message"]
    assert answers["largest"].status_code == 200 and len(answers["largest"].json()["predictions"]) == serving.MAX_ROWS
    status, _, body = answers["slow"].partition("\r\n\r\n")
    assert status.startswith("HTTP/1.1 408") and "did not arrive within" in json.loads(body)["message"], answers["slow"]
    print(f"server memory: idle {idle:.0f} MB, peak {peak:.0f} MB: worst request {peak - idle:.0f} MB")
    assert peak - idle < WORST_REQUEST_MB


def test_server_accepts_every_row_the_pipeline_scores(server, sample_model, sample_ch):
    """Rows the pipeline writes and scores: repeat purchases whose amounts were all <= 0
    (monetary_value 0, CDNOW has such customers), and repeat purchases on the first day's
    date in a snapshot (recency 0)."""
    rows = pd.DataFrame({"customer_id": ["10244", "snap"], "frequency": [1.0, 2.0], "recency": [12.0, 0.0],
                         "T": [38.0, 30.0], "monetary_value": [0.0, 25.0]})
    resp = post(server, {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}})
    assert resp.status_code == 200, resp.text
    got = pd.DataFrame(resp.json()["predictions"])
    np.testing.assert_allclose(got["clv"], sample_model.predict(rows)["clv"], rtol=1e-15)


def test_server_reads_csv_and_parquet_bodies_with_ids_as_text(server, sample_model, requests_rfm):
    rows = requests_rfm.iloc[:20].assign(customer_id=["00123", "12417"] + list(requests_rfm["customer_id"].iloc[2:20]))
    want = sample_model.predict(rows)
    csv = post(server, rows.to_csv(index=False), content_type="text/csv")
    parquet = post(server, rows.to_parquet(index=False), content_type="application/vnd.apache.parquet")
    for resp in (csv, parquet):
        assert resp.status_code == 200, resp.text
        got = pd.DataFrame(resp.json()["predictions"])
        assert list(got["customer_id"]) == list(rows["customer_id"])  # 00123 stays 00123, 12417 never 12417.0
        np.testing.assert_allclose(got["clv"], want["clv"], rtol=1e-15)
    numeric = post(server, {"dataframe_records": [{**VALID, "customer_id": 12417}]})
    assert numeric.status_code == 200 and numeric.json()["predictions"][0]["customer_id"] == "12417"
    bad = post(server, "customer_id,frequency,recency,T,monetary_value\nx,two,1,2,3\n", content_type="text/csv")
    assert bad.status_code == 400 and "Traceback" not in bad.text and "'two'" in bad.json()["message"]


SAME_RULES = {  # a value sent in JSON -> accepted by the pipeline's check (cltv.schema.validate_rfm)?
    "id NA": (record(customer_id="NA"), True),
    "id with spaces": (record(customer_id=" a1 "), True),
    "id 12417.0": (record(customer_id=12417.0), True),
    "id empty": (record(customer_id=""), False),
    "id true": (record(customer_id=True), False),
    "id 1.5": (record(customer_id=1.5), False),
    "frequency '1_000'": (record(frequency="1_000"), False),
    "frequency '2' as text": (record(frequency="2"), False),
    "T '39' as text": (record(T="39"), False),
    "frequency 2 as an integer": (record(frequency=2), True),
    "frequency 1e20": (record(frequency=10 ** 20, recency=30.5), False),
}


@pytest.mark.parametrize("case", list(SAME_RULES))
def test_the_server_and_the_pipeline_accept_and_refuse_the_same_values(server, sample_model, case):
    body, accepted = SAME_RULES[case]
    resp = post(server, body)
    try:
        serving.score(sample_model, pd.DataFrame(body["dataframe_records"]))
        in_python = True
    except serving.RequestError:
        in_python = False
    assert (resp.status_code == 200, in_python) == (accepted, accepted), (case, resp.text)
    if not accepted:
        assert resp.status_code == 400 and "Traceback" not in resp.text


def test_a_csv_request_reads_ids_and_numbers_as_the_pipeline_does(server):
    head = "customer_id,frequency,recency,T,monetary_value\n"
    ok = post(server, head + "NA,2,30.5,39,20\n00123,0,0,10,0\n", content_type="text/csv")
    assert ok.status_code == 200 and [p["customer_id"] for p in ok.json()["predictions"]] == ["NA", "00123"]
    for row, column in [("a,1_000,30.5,39,20", "frequency"), ("a,2,,39,20", "recency"), (",2,30.5,39,20", "customer_id")]:
        bad = post(server, head + row + "\n", content_type="text/csv")
        assert bad.status_code == 400 and column in bad.json()["message"], (row, bad.text)


def test_row_limit_is_for_http_requests_only(store, requests_rfm):
    many = pd.concat([requests_rfm] * 25, ignore_index=True)  # 58,925 rows
    assert len(many) > serving.MAX_ROWS
    got = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(many)
    assert len(got) == len(many)


def test_server_accepts_unicode_ids_and_still_answers(server):
    resp = post(server, {"dataframe_records": [{**VALID, "customer_id": "müşteri-顧客-🛒"}]})
    assert resp.status_code == 200 and resp.json()["predictions"][0]["customer_id"] == "müşteri-顧客-🛒"


def test_server_refuses_wrong_content_type(server):
    resp = post(server, json.dumps(record()), content_type="text/plain")
    assert resp.status_code == 415 and "only supports" in resp.json()["message"]  # JSON like every answer


@pytest.mark.slow
def test_load_mixed_requests_without_server_errors(server):
    """`./dev.sh test -m slow`: 8 clients for 60 s (benchmarks/load_test.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("load_test", Path(__file__).parents[1] / "benchmarks/load_test.py")
    load_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load_test)
    res = load_test.run(server, clients=8, seconds=60)
    print(f"load: {res['requests']} requests, {res['throughput_rps']:.1f} req/s, p50 {res['p50_ms']:.1f} ms, "
          f"p99 {res['p99_ms']:.1f} ms")
    assert res["failures"] == [] and res["answers_afterwards"] and res["requests"] > 100


# --------------------------------------------------------------------------- batch scoring
def test_cltv_score_scores_a_transaction_log_with_the_registered_model(store, sample_model, tmp_path):
    from cltv.data import cdnow, rfm

    tx = cdnow.load_cdnow("sample")
    tx = tx[tx["date"] <= "1997-09-30"].rename(columns={"customer_id": "client"})
    log = tmp_path / "orders.csv"
    tx.assign(date=tx["date"].dt.strftime("%d/%m/%Y")).to_csv(log, index=False)
    out = tmp_path / "scores.parquet"
    env = {**os.environ, "MLFLOW_TRACKING_URI": store["uri"]}
    proc = subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", f"models:/{NAME}@champion",
                           "--input", str(log), "--as-of", "1997-09-30", "--output", str(out),
                           "--customer-col", "client", "--date-format", "%d/%m/%Y"],
                          env=env, capture_output=True, text=True, cwd=store["dir"])
    assert proc.returncode == 0, proc.stderr
    got = pd.read_parquet(out)
    table = rfm.rfm(rfm.daily_purchases(cdnow.load_cdnow("sample").query("date <= '1997-09-30'")), "1997-09-30")
    want = sample_model.predict(table)
    assert len(got) == 2357 and list(got["customer_id"]) == list(want["customer_id"])  # ids stay text: 00004
    np.testing.assert_allclose(got["clv"], want["clv"], rtol=1e-15)
    assert list(got["segment"]) == list(want["segment"])
    counts = want["segment"].value_counts(sort=False)
    assert proc.stdout.strip().endswith(", ".join(f"{k}={v:,}" for k, v in counts.items()))

    bad = subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", f"models:/{NAME}@champion",
                          "--input", str(log), "--output", str(tmp_path / "x.csv")], env=env, capture_output=True,
                         text=True, cwd=store["dir"])
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1
    assert "missing column(s) ['customer_id']" in bad.stderr and not (tmp_path / "x.csv").exists()


def test_mlflow_models_predict_reads_csv_ids_as_text(store, tmp_path):
    (tmp_path / "req.csv").write_text("customer_id,frequency,recency,T,monetary_value\n00123,2,30.5,39,20\n"
                                      "12417,0,0,10,0\n10244,1,12,38,0\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": store["uri"],
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["mlflow", "models", "predict", "-m", f"models:/{NAME}@champion", "-i",
                           str(tmp_path / "req.csv"), "-t", "csv", "--env-manager", "local", "-o",
                           str(tmp_path / "out.json")], env=env, capture_output=True, text=True, cwd=store["dir"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text())["predictions"]
    assert [row["customer_id"] for row in got] == ["00123", "12417", "10244"]


@pytest.mark.parametrize("kind", ["mbgnbd", "paretonbd"])
def test_every_model_kind_is_packaged_served_and_batch_scored(store, sample_ch, requests_rfm, kind, tmp_path):
    """The same package serves every purchase model: a real server, `mlflow.pyfunc` and `cltv score`."""
    model = CLTVModel(purchases=kind).fit(sample_ch)
    model.save(tmp_path / "model.json")
    name = f"cltv-{kind}"
    with mlflow.start_run(experiment_id=MlflowClient().get_experiment_by_name("test").experiment_id):
        info = serving.log_model(tmp_path / "model.json", requests_rfm.head(3), registered_model_name=name)
    want = model.predict(requests_rfm)
    got = mlflow.pyfunc.load_model(info.model_uri).predict(requests_rfm)
    pd.testing.assert_frame_equal(got, want[got.columns], check_exact=True)
    if kind == "paretonbd":  # one real server for the model whose P(alive) needs quadrature
        with serve(f"models:/{name}/{info.registered_model_version}", store["uri"], tmp_path) as url:
            resp = post(url, {"dataframe_records": requests_rfm.iloc[:20].to_dict(orient="records")})
        assert resp.status_code == 200, resp.text
        np.testing.assert_allclose(pd.DataFrame(resp.json()["predictions"])["clv"], want["clv"].iloc[:20], rtol=1e-15)
    log = tmp_path / "orders.csv"
    from cltv.data import cdnow

    cdnow.load_cdnow("sample").query("date <= '1997-09-30'").to_csv(log, index=False)
    proc = subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", f"models:/{name}/1", "--input",
                           str(log), "--as-of", "1997-09-30", "--output", str(tmp_path / "s.parquet")],
                          env={**os.environ, "MLFLOW_TRACKING_URI": store["uri"]}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    scored = pd.read_parquet(tmp_path / "s.parquet")
    np.testing.assert_allclose(scored["clv"].sum(), want["clv"].sum(), rtol=1e-12)


def test_the_mlflow_functions_the_guard_hooks_exist():
    """The guard replaces private functions of mlflow.pyfunc.scoring_server: an MLflow that moved
    them fails here, naming its version, and the guard refuses to start the same way."""
    from cltv.serving import http_guard

    missing = http_guard.missing_hooks()
    assert not missing, (f"MLflow {mlflow.__version__} has no mlflow.pyfunc.scoring_server."
                         f"{', '.join(missing)}: port cltv.serving.http_guard to it")
    with pytest.raises(RuntimeError, match=rf"scoring_server\.no_such_function, which MLflow {mlflow.__version__} "):
        http_guard._hook("no_such_function", lambda original: original)
