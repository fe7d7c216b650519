"""The managers' report: a short table under plain headers, advice that differs per segment, one
sentence on how sure the segments are, and a chart of where the value is."""
from cltv import report
from cltv.schema import SEGMENT_SPAN


def test_the_report_reads_as_a_manager_needs_it(sample_model, sample_ch, tmp_path):
    scores = sample_model.predict(sample_ch)
    labels = list(sample_model.segment_labels)
    summary = report.segment_summary(scores, None, labels, sample_model.horizons_months)
    table = report.overview(summary)
    assert list(table.columns) == ["Segment", "Customers", "Share of customers", "Share of value",
                                   "Value per customer", "Orders per customer, next 6 months", "Weeks since last order"]
    assert list(table["Segment"]) == labels and table["Share of customers"].str.endswith("%").all()
    tips = report.actions(summary)
    kinds = [t[0].split(":")[0] for t in tips.values()]
    assert kinds == ["Retain", "Upgrade", "Grow", "Keep costs low"]  # each segment its own advice
    sentence = report.certainty(scores[SEGMENT_SPAN], 0.9)
    sure = (scores[SEGMENT_SPAN].str.len() == 1).mean()
    assert sentence.startswith(f"How sure: for {sure:.0%} of customers the 90% interval") and 0 < sure < 1
    report.plot_clv_by_segment(scores, labels, tmp_path / "value.png")
    png = (tmp_path / "value.png").read_bytes()
    assert png[:4] == b"\x89PNG"
    page = report.html(report.blocks(summary, tips, "Customer value segments", ["fact"], [], sentence), png)
    assert page.count("<th>") == 7 and "How sure:" in page and "mean_" not in page
