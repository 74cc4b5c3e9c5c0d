"""Rendering report.html and report.md from a hand-built engine result."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from report_hand import HOSTILE_NAMES, assert_snapshot, hand_data, hand_result

from soekpi.base.errors import InputError, UsageError
from soekpi.engine.hierarchy import entity_order
from soekpi.report.charts import STATUSES
from soekpi.report.render import (
    I18N_DIR,
    build_context,
    load_messages,
    render_html,
    render_markdown,
)


def test_html_snapshot() -> None:
    assert_snapshot("report_en.html", render_html(build_context(hand_data())))


def test_markdown_snapshot() -> None:
    assert_snapshot("report_en.md", render_markdown(build_context(hand_data())))


def test_markdown_snapshot_zh() -> None:
    assert_snapshot("report_zh-CN.md", render_markdown(build_context(hand_data("zh-CN"))))


def test_message_catalogues_have_the_same_keys() -> None:
    en = load_messages("en")
    zh = load_messages("zh-CN")
    assert sorted(en) == sorted(zh)
    assert sorted(p.name for p in I18N_DIR.glob("*.yaml")) == ["en.yaml", "zh-CN.yaml"]


def test_every_label_the_templates_use_exists() -> None:
    templates = Path(__file__).parents[2] / "reports"
    used = set()
    for path in templates.glob("*.j2"):
        used |= set(re.findall(r"\bt\.([a-z_0-9]+)", path.read_text(encoding="utf-8")))
    assert used, "the templates use no label"
    assert used <= set(load_messages("en"))
    # every label is used somewhere: the rest by render.py (statuses, fiscal label, points)
    from_python = {f"status_{s}" for s in STATUSES} | {
        "fiscal_label_end",
        "fiscal_label_start",
        "points",
        "revision_note",
    }
    assert set(load_messages("en")) - used == from_python


def test_unknown_language_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"^--lang: 'fr' is not one of en, zh-CN$"):
        load_messages("fr")


def test_key_numbers_are_formatted_per_kpi() -> None:
    context = build_context(hand_data())
    rows = {k.id: k for k in context.roots[0].kpis}
    # revenue: 1234 with 0 decimals → "1,234 CNY"; change 1234 − 1150 = 84
    assert rows["revenue"].value == "1,234 CNY"
    assert rows["revenue"].change == "+84 CNY"
    assert rows["revenue"].target == "≥ 1,000 CNY (amber ≥ 800 CNY)"
    # cost ratio: 65.25 % rounds half up to 65.3; change 65.25 − 62.5 = 2.75 → +2.8 pp
    assert rows["cost_ratio"].value == "65.3%"
    assert rows["cost_ratio"].change == "+2.8 pp"
    assert rows["cost_ratio"].target == "≤ 60.0% (amber ≤ 70.0%)"
    # no thresholds, no previous cycle
    assert (rows["hires"].target, rows["hires"].change) == ("—", "—")
    # the summary counts the root entity's statuses: revenue and index green, cost ratio
    # amber, hires untracked
    counts = {c.status: c.count for c in context.roots[0].counts}
    assert counts == {
        "green": 2,
        "amber": 1,
        "red": 0,
        "incomplete": 0,
        "no_data": 0,
        "untracked": 1,
    }


def test_composite_breakdown() -> None:
    composite = build_context(hand_data()).roots[0].composites[0]
    assert composite.value == "96.0"  # (0.5 × 100 + 0.5 × 100 × 60 / 65.25) / 1 = 95.98
    parts = {c.name: c for c in composite.components}
    # cost ratio: score 100 × 60 / 65.25 = 91.95 → "92.0"; contribution 0.5 × 91.95 = 45.98
    assert (parts["Cost ratio"].score, parts["Cost ratio"].contribution) == ("92.0", "46.0")
    assert (parts["Revenue"].score, parts["Revenue"].contribution) == ("100.0", "50.0")
    assert parts["Revenue"].weight == "0.50"


def test_risks_list_red_before_amber_in_hierarchy_order() -> None:
    risks = build_context(hand_data()).risk_kpis
    assert [(r.entity, r.kpi, r.status) for r in risks] == [
        ("North Power", "Revenue", "red"),
        ("Acme Group", "Cost ratio", "amber"),
    ]


def test_missing_months_are_grouped_and_sorted() -> None:
    missing = build_context(hand_data()).missing
    assert [(m.source, m.entity, m.months) for m in missing] == [
        ("financials", "South Grid", "2026-08, 2026-09")
    ]


def test_zh_cn_labels_and_names() -> None:
    html = render_html(build_context(hand_data("zh-CN")))
    assert '<html lang="zh-CN">' in html
    assert '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"' in html
    assert "<h2>概览</h2>" in html
    assert "关键绩效指标报告" in html
    assert "营业收入" in html and "北方电力" in html  # KPI and entity names in Chinese
    assert "South Grid" in html  # no name_zh: the name
    assert "Digital hires" in html  # no zh-CN name: the English one
    assert "Summary" not in html


HOSTILE = HOSTILE_NAMES


def test_user_data_is_escaped_in_html() -> None:
    data = hand_data(result=hand_result(HOSTILE))
    html = render_html(build_context(data))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in html
    assert "<b>" not in html
    assert "Say &#34;hi&#34; &#39;there&#39; &lt;b&gt;" in html
    assert "<script" not in html.lower()


def test_user_data_is_escaped_in_markdown() -> None:
    data = hand_data(result=hand_result(HOSTILE))
    md = render_markdown(build_context(data))
    assert "\\<script" not in md and "<script>" not in md
    assert '&lt;script&gt;alert("x")&lt;/script&gt; & Co' in md
    assert "North \\| \\*Power\\* \\_x\\_ \\`y\\` line" in md
    # every table row keeps its column count: no cell text breaks the table
    for block in md.split("\n\n"):
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if lines:
            widths = {len(re.findall(r"(?<!\\)\|", ln)) for ln in lines}
            assert len(widths) == 1, lines
    zh = render_markdown(build_context(hand_data("zh-CN", result=hand_result(HOSTILE))))
    assert "北方\\|电力" in zh


def test_workspace_templates_override_by_file_name(tmp_path: Path) -> None:
    (tmp_path / "_risks.md.j2").write_text("## {{ t.section_risks }}: overridden\n\n")
    md = render_markdown(build_context(hand_data()), tmp_path)
    assert "## Risks: overridden" in md
    assert "## Data quality" in md  # the other partials are the built-in ones


def test_template_errors_name_the_template(tmp_path: Path) -> None:
    (tmp_path / "_risks.md.j2").write_text("{{ t.no_such_label }}\n")
    with pytest.raises(InputError) as info:
        render_markdown(build_context(hand_data()), tmp_path)
    assert str(info.value) == (
        f"{tmp_path / '_risks.md.j2'}:1: template error: 'dict object' has no attribute "
        "'no_such_label'"
    )


def test_entity_order_is_depth_first_by_id() -> None:
    rows = [
        {"entity_id": "B", "parent_id": "G"},
        {"entity_id": "G", "parent_id": None},
        {"entity_id": "A", "parent_id": "G"},
        {"entity_id": "A1", "parent_id": "A"},
    ]
    assert entity_order(rows, None) == ["G", "A", "A1", "B"]
    assert entity_order(rows, "A") == ["A", "A1"]
    with pytest.raises(UsageError, match="root_entity 'Z' is not an entity"):
        entity_order(rows, "Z")
