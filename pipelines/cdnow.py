"""Stage `cdnow`: CDNOW from the installed lifetimes package -> data/raw/transactions.csv."""

from cltv.data.cdnow import load_cdnow
from cltv.io import write_csv
from pipelines.common import ROOT, run


def main(p: dict) -> None:
    tx = load_cdnow(p["data"]["cdnow_file"])
    write_csv(ROOT / "data/raw/transactions.csv", tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")))


if __name__ == "__main__":
    run(main)
