"""Stage `flo_sample`: a generated FLO-schema snapshot -> data/raw/flo_sample.csv (no real customers)."""

from cltv.data.simulate import simulate_flo, write_flo_csv
from pipelines.common import ROOT, run


def main(p: dict) -> None:
    s = p["flo_sample"]
    df = simulate_flo(s["customers"], selection=s["selection"], seed=s["seed"], channel_effects=s["channel_effects"])
    write_flo_csv(df, ROOT / "data/raw/flo_sample.csv")
    print(f"flo_sample: {len(df)} customers (seed {s['seed']}, selection {s['selection']})")


if __name__ == "__main__":
    run(main)
