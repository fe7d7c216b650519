"""The segment report: per-segment figures, action suggestions and a Markdown page for managers.

Inputs: the scores of :meth:`cltv.model.CLTVModel.predict` (one row per customer, with
``segment``) and optional customer attributes (``customer_id`` plus, for FLO,
``order_channel``, ``last_order_channel``, ``interested_in_categories_12``).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .model import horizon_column

CHANNEL_COLUMNS = ["order_channel", "last_order_channel"]
CATEGORY_COLUMN = "interested_in_categories_12"


def _categories(values: pd.Series) -> pd.Series:
    """``"[ERKEK, KADIN]"`` -> one row per category (empty lists give none)."""
    items = values.astype(str).str.strip().str.strip("[]").str.split(",")
    flat = items.explode().str.strip()
    return flat[flat.notna() & (flat != "")]


def segment_summary(scores: pd.DataFrame, customers: pd.DataFrame | None, labels: Sequence[str],
                    horizons_months: Sequence[float]) -> pd.DataFrame:
    """One row per segment (best first): customers and their share, share of total CLV, mean
    expected purchases per horizon, mean expected order value, CLV, P(alive), recency and
    tenure ``T`` (weeks), the mix of each channel column (``<column>: <value>`` shares) and the
    three most common interest categories."""
    df = scores if customers is None else scores.merge(customers, on="customer_id", how="left")
    g = df.groupby("segment", sort=False)
    total_clv = df["clv"].sum()
    out = pd.DataFrame({
        "customers": g.size(),
        "customer_share": g.size() / len(df),
        "clv_share": g["clv"].sum() / total_clv if total_clv else 0.0,
        **{f"mean_{horizon_column(h)}": g[horizon_column(h)].mean() for h in horizons_months},
        "mean_expected_value": g["expected_value"].mean(),
        "mean_clv": g["clv"].mean(),
        "mean_p_alive": g["p_alive"].mean(),
        "mean_frequency": g["frequency"].mean(),
        "mean_recency_weeks": g["recency"].mean(),
        "mean_tenure_weeks": g["T"].mean(),
    }).reindex(list(labels))
    out["customers"] = out["customers"].fillna(0).astype("int64")
    for col in CHANNEL_COLUMNS:
        if col in df.columns:
            mix = pd.crosstab(df["segment"], df[col], normalize="index").reindex(list(labels)).fillna(0.0)
            for value in sorted(mix.columns):
                out[f"{col}: {value}"] = mix[value]
    if CATEGORY_COLUMN in df.columns:
        cats = _categories(df.set_index("segment")[CATEGORY_COLUMN])
        top = cats.groupby(level=0).agg(lambda s: ", ".join(s.value_counts().sort_index().sort_values(
            ascending=False, kind="stable").index[:3]))
        out["top_categories"] = top.reindex(list(labels)).fillna("")
    out.index.name = "segment"
    return out.reset_index()


def actions(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Two or three concrete suggestions per segment, derived from its figures."""
    out: dict[str, list[str]] = {}
    n = len(summary)
    for i, row in summary.iterrows():
        seg, tips = row["segment"], []
        share = f"{row['customer_share']:.0%} of customers, {row['clv_share']:.0%} of expected value"
        at_risk = row["mean_p_alive"] < 0.5
        if i == 0:
            tips.append(f"Retain: {share}. Protect them with loyalty benefits, early access and service "
                        "rather than discounts.")
        elif i == n - 1:
            tips.append(f"Keep costs low: {share}. Reach them only through cheap automated channels.")
        else:
            tips.append(f"Grow: {share}. Cross-sell and nudge the next order: they buy "
                        f"{row['mean_frequency']:.1f} repeat orders on average at {row['mean_expected_value']:.0f} per order.")
        if at_risk:
            tips.append(f"Reactivate: mean P(alive) is only {row['mean_p_alive']:.2f} and the last purchase was "
                        f"{row['mean_tenure_weeks'] - row['mean_recency_weeks']:.0f} weeks ago on average; "
                        "send a win-back offer before they are lost.")
        else:
            tips.append(f"Stay present: mean P(alive) {row['mean_p_alive']:.2f}; time reminders to their "
                        f"rhythm of about {row['mean_tenure_weeks'] / max(row['mean_frequency'] + 1, 1):.0f} weeks "
                        "between orders.")
        offline = row.get("last_order_channel: Offline")
        if offline is not None and not pd.isna(offline):
            where = "in stores" if offline >= 0.5 else "online"
            tips.append(f"Channel: {max(offline, 1 - offline):.0%} last bought {where}; run the campaign there"
                        + (f", around their top categories ({row['top_categories']})." if row.get("top_categories") else "."))
        out[seg] = tips
    return out


def _table(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def markdown(summary: pd.DataFrame, suggestions: dict[str, list[str]], title: str, facts: Sequence[str],
             warnings: Sequence[str], plot_file: str) -> str:
    """The report page: facts about the run, warnings, per-segment table, channel mix, actions."""
    fmt = summary.copy()
    pct = [c for c in fmt.columns if c.endswith("_share") or ": " in c]
    for c in fmt.columns:
        if c in pct:
            fmt[c] = fmt[c].map(lambda v: f"{v:.1%}")
        elif c not in ("segment", "customers", "top_categories") and pd.api.types.is_numeric_dtype(fmt[c]):
            fmt[c] = fmt[c].map(lambda v: f"{v:,.2f}")
    main_cols = [c for c in fmt.columns if ": " not in c and c != "top_categories"]
    lines = [f"# {title}", "", *(f"- {f}" for f in facts), ""]
    lines += ["## Warnings", ""] + ([f"- {w}" for w in warnings] or ["- none"]) + [""]
    lines += ["## Segments", "", "Recency and tenure in weeks; values in the data's currency.", "",
              _table(fmt[main_cols]), "", f"![CLV by segment]({plot_file})", ""]
    mix_cols = [c for c in fmt.columns if ": " in c]
    if mix_cols:
        lines += ["## Channels and interests", "", _table(fmt[["segment", *mix_cols]]), ""]
    if "top_categories" in fmt.columns:
        lines += [_table(fmt[["segment", "top_categories"]]), ""]
    lines += ["## Suggested actions", ""]
    for seg, tips in suggestions.items():
        lines += [f"**{seg}**", "", *(f"- {t}" for t in tips), ""]
    return "\n".join(lines)


def plot_clv_by_segment(scores: pd.DataFrame, labels: Sequence[str], path: str | Path) -> None:
    """Box plot of CLV per segment (best first), PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [scores.loc[scores["segment"] == s, "clv"].to_numpy() for s in labels]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        ax.boxplot([d if d.size else np.array([np.nan]) for d in data], showfliers=False)
        ax.set_xticks(range(1, len(labels) + 1), list(labels))
        ax.set(title="CLV by segment (boxes: quartiles; whiskers: 1.5 IQR)", xlabel="segment", ylabel="CLV")
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
