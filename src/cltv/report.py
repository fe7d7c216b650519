"""The segment report: per-segment figures, action suggestions, as Markdown and as one
self-contained HTML page for managers.

Inputs: the scores of :meth:`cltv.model.CLTVModel.predict` (one row per customer, with
``segment``) and optional customer attributes (``customer_id`` plus, for FLO,
``order_channel``, ``last_order_channel``, ``interested_in_categories_12``).
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from .schema import horizon_column

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


def actions(summary: pd.DataFrame, p_alive_informative: bool = True) -> dict[str, list[str]]:
    """Two or three concrete suggestions per segment, derived from its figures. When the fit could
    not identify dropout (``p_alive_informative`` False), no advice rests on P(alive)."""
    out: dict[str, list[str]] = {}
    n = len(summary)
    for i, row in summary.iterrows():
        seg, tips = row["segment"], []
        share = f"{row['customer_share']:.0%} of customers, {row['clv_share']:.0%} of expected value"
        since = row["mean_tenure_weeks"] - row["mean_recency_weeks"]
        if i == 0:
            tips.append(f"Retain: {share}. Protect them with loyalty benefits, early access and service "
                        "rather than discounts.")
        elif i == n - 1:
            tips.append(f"Keep costs low: {share}. Reach them only through cheap automated channels.")
        elif i == 1:
            tips.append(f"Upgrade: {share}. They are the closest to the best segment: offer the next loyalty tier "
                        f"and personal recommendations (expected spend about {row['mean_expected_value']:.0f} "
                        "per order).")
        elif row["mean_frequency"] < 0.5:
            tips.append(f"Grow: {share}. Most of them have bought only once; a second order is the goal "
                        f"(expected spend about {row['mean_expected_value']:.0f} per order).")
        else:
            tips.append(f"Grow: {share}. Cross-sell and nudge the next order: they have come back "
                        f"{row['mean_frequency']:.1f} times on average, spending about {row['mean_expected_value']:.0f} "
                        "per order.")
        if not p_alive_informative:
            tips.append(f"P(alive) is not informative here: the fit could not tell when customers stop buying, so "
                        f"it rates everyone as active. Judge by recency instead: their last purchase was {since:.0f} "
                        "weeks ago on average.")
        elif row["mean_p_alive"] < 0.5:
            tips.append(f"Reactivate: mean P(alive) is only {row['mean_p_alive']:.2f} and the last purchase was "
                        f"{since:.0f} weeks ago on average; send a win-back offer before they are lost.")
        elif row["mean_frequency"] >= 0.5:
            tips.append(f"Stay present: mean P(alive) {row['mean_p_alive']:.2f}; time reminders to their rhythm of "
                        f"about {row['mean_tenure_weeks'] / (row['mean_frequency'] + 1):.0f} weeks between orders.")
        else:
            tips.append(f"Stay present: mean P(alive) {row['mean_p_alive']:.2f}, which says little for customers "
                        "who bought once (the model cannot see them drop out yet); their first purchase was "
                        f"{row['mean_tenure_weeks']:.0f} weeks ago on average.")
        offline = row.get("last_order_channel: Offline")
        if offline is not None and not pd.isna(offline):
            where = "in stores" if offline >= 0.5 else "online"
            tips.append(f"Channel: {max(offline, 1 - offline):.0%} last bought {where}; run the campaign there"
                        + (f", around their top categories ({row['top_categories']})." if row.get("top_categories") else "."))
        out[seg] = tips
    return out


def overview(summary: pd.DataFrame) -> pd.DataFrame:
    """The managers' table: one row per segment, six figures under plain headers (the full
    profile is ``outputs/segment_profile.csv``)."""
    horizon = [c for c in summary.columns if c.startswith("mean_expected_purchases_")][-1]
    months = horizon.removeprefix("mean_expected_purchases_").removesuffix("m")
    return pd.DataFrame({
        "Segment": summary["segment"],
        "Customers": summary["customers"].map("{:,}".format),
        "Share of customers": summary["customer_share"].map("{:.0%}".format),
        "Share of value": summary["clv_share"].map("{:.0%}".format),
        "Value per customer": summary["mean_clv"].map("{:,.2f}".format),
        f"Orders per customer, next {months} months": summary[horizon].map("{:.2f}".format),
        "Weeks since last order": (summary["mean_tenure_weeks"] - summary["mean_recency_weeks"]).map("{:.0f}".format),
    })


def certainty(spans: pd.Series, level: float) -> str:
    """One sentence on how sure the segment assignments are, from ``segment_span`` (the segments
    a customer's CLV interval at ``level`` reaches)."""
    sure = float((spans.str.len() == 1).mean())
    wide = float((spans.str.len() > 1).mean())
    advice = ("read the segments as a ranking for campaigns, not as a verdict on each customer" if sure < 0.5
              else "treat customers near a border as belonging to either")
    return (f"How sure: for {sure:.0%} of customers the {level:.0%} interval of their value stays inside their "
            f"segment; for the other {wide:.0%} it reaches into another segment, so {advice} "
            "(per customer: `segment_span` in outputs/scores.csv).")


def _formatted(summary: pd.DataFrame) -> pd.DataFrame:
    fmt = summary.copy()
    for c in fmt.columns:
        if c.endswith("_share") or ": " in c:
            fmt[c] = fmt[c].map(lambda v: f"{v:.1%}")
        elif c not in ("segment", "customers", "top_categories") and pd.api.types.is_numeric_dtype(fmt[c]):
            fmt[c] = fmt[c].map(lambda v: f"{v:,.2f}")
    return fmt


def blocks(summary: pd.DataFrame, suggestions: dict[str, list[str]], title: str, facts: Sequence[str],
           warnings: Sequence[str], sureness: str | None = None) -> list[tuple[str, object]]:
    """The report as a list of (kind, content) blocks: ``h1``/``h2``/``p``/``bold`` text, ``list``
    of texts, ``table`` (a DataFrame of strings), ``image`` (the CLV plot). Rendered by
    :func:`markdown` and :func:`html`."""
    fmt = _formatted(summary)
    out: list[tuple[str, object]] = [("h1", title), ("list", list(facts)), ("h2", "Warnings"),
                                     ("list", list(warnings) or ["none"]), ("h2", "Segments"),
                                     ("p", "Value: expected value (CLV) in the data's currency. Every figure per "
                                           "segment: outputs/segment_profile.csv."),
                                     ("table", overview(summary)), *([("p", sureness)] if sureness else []),
                                     ("image", "Share of customers and of value by segment")]
    mix = [c for c in fmt.columns if ": " in c]
    if mix:
        out += [("h2", "Channels and interests"), ("table", fmt[["segment", *mix]])]
    if "top_categories" in fmt.columns:
        out += [("table", fmt[["segment", "top_categories"]])]
    out += [("h2", "Suggested actions")]
    for seg, tips in suggestions.items():
        out += [("bold", seg), ("list", tips)]
    return out


def markdown(parts: list[tuple[str, object]], plot_file: str) -> str:
    """The report as Markdown, the plot linked as ``plot_file``."""
    lines: list[str] = []
    for kind, content in parts:
        if kind == "table":
            head = "| " + " | ".join(content.columns) + " |"
            rule = "|" + "|".join("---" for _ in content.columns) + "|"
            lines += [head, rule, *("| " + " | ".join(map(str, r)) + " |" for r in content.itertuples(index=False))]
        else:
            lines += {"h1": [f"# {content}"], "h2": [f"## {content}"], "p": [str(content)], "bold": [f"**{content}**"],
                      "list": [f"- {t}" for t in content], "image": [f"![{content}]({plot_file})"]}[kind]
        lines.append("")
    return "\n".join(lines)


def html(parts: list[tuple[str, object]], png: bytes) -> str:
    """The report as one self-contained HTML page (the plot inline as a data URI), for MLflow's
    artifact viewer and a browser."""
    body: list[str] = []
    for kind, content in parts:
        if kind == "table":
            head = "".join(f"<th>{escape(str(c))}</th>" for c in content.columns)
            rows = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>"
                           for r in content.itertuples(index=False))
            body.append(f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
        elif kind == "list":
            body.append("<ul>" + "".join(f"<li>{escape(str(t))}</li>" for t in content) + "</ul>")
        elif kind == "image":
            data = base64.b64encode(png).decode()
            body.append(f'<img alt="{escape(str(content))}" src="data:image/png;base64,{data}">')
        else:
            tag = {"h1": "h1", "h2": "h2", "p": "p", "bold": "h3"}[kind]
            body.append(f"<{tag}>{escape(str(content))}</{tag}>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             ".wide{overflow-x:auto}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:right}th{background:#f3f3f3}img{max-width:100%}")
    title = escape(str(next((c for k, c in parts if k == "h1"), "Report")))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def plot_clv_by_segment(scores: pd.DataFrame, labels: Sequence[str], path: str | Path) -> None:
    """Bars per segment (best first): its share of the customers and its share of the expected
    value (CLV), PNG; readable where CLV is so skewed that a box plot of it is flat."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = scores["segment"].astype(str).value_counts().reindex(list(labels), fill_value=0)
    value = scores.groupby(scores["segment"].astype(str))["clv"].sum().reindex(list(labels), fill_value=0.0)
    shares = {"customers": counts / max(counts.sum(), 1), "value (CLV)": value / (value.sum() or 1.0)}
    x, width = np.arange(len(labels)), 0.4
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        for k, (name, share) in enumerate(shares.items()):
            bars = ax.bar(x + (k - 0.5) * width, share.to_numpy() * 100, width, label=f"share of {name}")
            ax.bar_label(bars, fmt="%.0f%%", fontsize=8)
        ax.set_xticks(x, list(labels))
        ax.set(title="Share of customers and of expected value by segment", xlabel="segment (best first)",
               ylabel="%")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
