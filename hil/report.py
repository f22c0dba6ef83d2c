"""The outputs of `otgate hil run`: one HTML report per run and a JUnit XML file.

HTML: a summary table (with valve travel, decision latency p95 and peak RSS per scenario), the hazard
coverage matrix when the hazard list is given, then per scenario the trend plot (PNG next to the HTML,
referenced by a relative path so the directory can be zipped or published as a CI artefact), the pass/fail
table with margins and first-violation times, and links to the trace, the PLC write log, the audit trail
and the events. An assertion whose condition never arose shows NOT EXERCISED, never PASS.

JUnit: one <testsuite> per scenario, one <testcase> per assertion. A failure's text is in the `message`
attribute and again in the element body, because some CI front-ends (GitLab) show only the body.
Suite properties: seed, plant, protocol, subject, sim_duration_s, trace_sha256, plot.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from otgate_hil.assertions import Outcome
from otgate_hil.coverage import Coverage
from otgate_hil.record import RunRecord
from otgate_hil.run_metrics import percentile, valve_travel


@dataclass
class ScenarioResult:
    record: RunRecord
    outcomes: list[Outcome]
    source: Path
    plot: Path | None = None
    artifacts: dict[str, Path] | None = None

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outcomes)


def _rel(path: Path | None, base: Path) -> str:
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def _first(o: Outcome) -> str:
    return "" if o.first_violation_s is None else f"{o.first_violation_s:g} s"


def _figures(record: RunRecord) -> tuple[str, str, str]:
    """(valve travel, latency p95, peak RSS) as table cells."""
    travel = valve_travel(record)
    travel_text = (
        " ".join(f"{name.removesuffix('.OUT')} {value:.3g}" for name, value in travel.items()) or "-"
    )
    p95 = percentile(record.latencies_s, 95.0)
    latency_text = "-" if p95 is None else f"{p95 * 1000:.1f} ms"
    return travel_text, latency_text, f"{record.peak_rss_mb:.0f} MB"


def _verdict_class(o: Outcome) -> str:
    return "pass" if o.passed else "fail"


def _coverage_table(coverage: Coverage) -> list[str]:
    out = ["<h2 id='coverage'>Hazard coverage</h2>", "<table><tr><th>hazard</th><th>plant</th>"
           "<th>requirements</th><th>scenarios</th></tr>"]  # fmt: skip
    for h in coverage.hazards:
        ids = coverage.by_hazard[h.id]
        cell = " ".join(f"<a href='#{html.escape(i)}'>{html.escape(i)}</a>" for i in ids)
        cell = cell or "<span class='fail'>UNCOVERED</span>"
        out.append(
            f"<tr><td><b>{html.escape(h.id)}</b><br>{html.escape(h.title)}</td><td>{h.plant}</td>"
            f"<td>{', '.join(h.requirements)}</td>"
            f"<td>{cell}</td></tr>"
        )
    out.append("</table>")
    uncovered = coverage.uncovered
    out.append(
        f"<p>{len(coverage.hazards) - len(uncovered)}/{len(coverage.hazards)} hazards covered"
        + (f"; uncovered: {', '.join(html.escape(h.id) for h in uncovered)}" if uncovered else "")
        + ".</p>"
    )
    return out


def write_html(
    results: Sequence[ScenarioResult],
    path: Path,
    title: str = "otgate HIL report",
    coverage: Coverage | None = None,
) -> Path:
    base = path.parent
    total = sum(len(r.outcomes) for r in results)
    failed = sum(1 for r in results for o in r.outcomes if not o.passed)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em;max-width:1200px}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px;text-align:left;vertical-align:top}.pass{color:#1a7f37;font-weight:bold}"
        ".fail{color:#cf222e;font-weight:bold}img{max-width:100%;border:1px solid #ddd}"
        "code{font-size:12px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(results)} scenarios, {total} assertions, <span class='{'fail' if failed else 'pass'}'>"
        f"{failed} failed</span>.</p>",
        "<table><tr><th>scenario</th><th>plant</th><th>protocol</th><th>subject</th><th>result</th>"
        "<th>assertions</th><th>wall time</th><th>valve travel</th><th>decision latency p95</th>"
        "<th>peak RSS</th><th>trace sha256</th></tr>",
    ]
    for r in results:
        meta = r.record.scenario.metadata
        ok = r.passed
        travel, latency, rss = _figures(r.record)
        parts.append(
            f"<tr><td><a href='#{html.escape(meta.id)}'>{html.escape(meta.id)}</a> {html.escape(meta.title)}</td>"
            f"<td>{r.record.scenario.plant}</td><td>{r.record.protocol}</td><td>{r.record.subject}</td>"
            f"<td class='{'pass' if ok else 'fail'}'>{'PASS' if ok else 'FAIL'}</td>"
            f"<td>{sum(o.passed for o in r.outcomes)}/{len(r.outcomes)}</td><td>{r.record.wall_s:.2f} s</td>"
            f"<td>{html.escape(travel)}</td><td>{latency}</td><td>{rss}</td>"
            f"<td><code>{r.record.trace_sha256[:16]}</code></td></tr>"
        )
    parts.append("</table>")
    if coverage is not None:
        parts += _coverage_table(coverage)
    for r in results:
        parts += _section(r, base)
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _section(r: ScenarioResult, base: Path) -> list[str]:
    s = r.record.scenario
    meta = s.metadata
    out = [
        f"<h2 id='{html.escape(meta.id)}'>{html.escape(meta.id)}: {html.escape(meta.title)} "
        f"<span class='{'pass' if r.passed else 'fail'}'>{'PASS' if r.passed else 'FAIL'}</span></h2>",
        f"<p>{html.escape(meta.description)}</p>",
        f"<p>plant <b>{s.plant}</b>, seed {s.seed}, {s.duration:g} s simulated, category {meta.category}, "
        f"source <code>{html.escape(str(r.source))}</code></p>",
        f"<p>hazards: {html.escape(', '.join(meta.hazards) or '-')}; "
        f"requirements: {html.escape(', '.join(meta.requirements) or '-')}</p>",
    ]
    if r.plot is not None:
        out.append(
            f"<img src='{html.escape(_rel(r.plot, base))}' alt='trend plot of {html.escape(meta.id)}'>"
        )
    else:
        out.append("<p><i>No plot: matplotlib is not installed.</i></p>")
    out.append(
        "<table><tr><th>assertion</th><th>kind</th><th>result</th><th>margin</th><th>first violation</th>"
        "<th>detail</th></tr>"
    )
    for o in r.outcomes:
        out.append(
            f"<tr><td><b>{html.escape(o.id)}</b><br>{html.escape(o.title)}</td><td>{o.kind}</td>"
            f"<td class='{_verdict_class(o)}'>{o.verdict}</td>"
            f"<td>{html.escape(o.margin_text)}</td><td>{_first(o)}</td><td>{html.escape(o.detail)}</td></tr>"
        )
    out.append("</table>")
    if r.artifacts:
        links = " · ".join(
            f"<a href='{html.escape(_rel(p, base))}'>{html.escape(p.name)}</a>" for p in r.artifacts.values()
        )
        out.append(f"<p>Artefacts: {links}</p>")
    return out


def write_junit(results: Sequence[ScenarioResult], path: Path, plot_base: Path | None = None) -> Path:
    suites = ET.Element("testsuites", name="otgate-hil")
    for r in results:
        meta = r.record.scenario.metadata
        failures = sum(not o.passed for o in r.outcomes)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"{meta.id} {meta.title}",
            tests=str(len(r.outcomes)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{r.record.wall_s:.3f}",
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("seed", str(r.record.scenario.seed)),
            ("plant", r.record.scenario.plant),
            ("protocol", r.record.protocol),
            ("subject", r.record.subject),
            ("sim_duration_s", f"{r.record.scenario.duration:g}"),
            ("trace_sha256", r.record.trace_sha256),
            ("plot", _rel(r.plot, plot_base or path.parent)),
            ("hazards", " ".join(meta.hazards)),
            ("requirements", " ".join(meta.requirements)),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for o in r.outcomes:
            case = ET.SubElement(
                suite, "testcase", classname=f"hil.{meta.id}", name=f"{o.id}: {o.title}", time="0"
            )
            if not o.passed:
                kind = "AssertionFailed" if o.exercised else "NotExercised"
                failure = ET.SubElement(case, "failure", message=o.message, type=kind)
                failure.text = o.message
            else:
                ET.SubElement(case, "system-out").text = f"margin {o.margin_text}; {o.detail}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path
