"""The evidence pack as one self-contained HTML page (no script, no external asset: it opens from a USB
stick in a plant office and prints). Autoescaped: test names and failure messages are data."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>otgate evidence pack{% if pack.label %} - {{ pack.label }}{% endif %}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f0f0f0}
.proven{background:#dff5df}.not_run{background:#fff3cd}.unproven,.failed{background:#f8d0d0}
.status{font-weight:bold;text-transform:uppercase;white-space:nowrap}
.passed{color:#176317}.skipped{color:#8a6d00}.fail{color:#a00;font-weight:bold}
code{font-size:12px} small{color:#555} td.id{white-space:nowrap}
</style></head><body>
<h1>otgate evidence pack{% if pack.label %} <small>{{ pack.label }}</small>{% endif %}</h1>
<p>Traceability from each requirement to what proves it and the latest result. A requirement is
<b>proven</b> when a proof passed and none failed, <b>not run</b> when its proofs have no result here,
<b>unproven</b> when nothing claims to prove it and <b>failed</b> when a proof failed. otgate is not a
safety instrumented system; this pack is evidence for its supervisory functions only.</p>
<h2>Summary</h2>
<table><tr><th>requirements</th><th>proven</th><th>not run</th><th>unproven</th><th>failed</th>
<th>tests declaring</th><th>scenarios declaring</th></tr>
<tr><td>{{ s.requirements }}</td><td class="proven">{{ s.proven }}</td><td class="not_run">{{ s.not_run }}</td>
<td class="unproven">{{ s.unproven }}</td><td class="failed">{{ s.failed }}</td>
<td>{{ s.tests_declaring }}</td><td>{{ s.scenarios_declaring }}</td></tr></table>
{% if s.failed_ids %}<p class="fail">Failed: {{ s.failed_ids|join(", ") }}</p>{% endif %}
{% if s.unproven_ids %}<p class="fail">Proved by nothing: {{ s.unproven_ids|join(", ") }}</p>{% endif %}
{% if pack.problems %}<h2>Problems</h2><ul>{% for p in pack.problems %}<li class="fail">{{ p }}</li>{% endfor %}</ul>{% endif %}
{% if pack.checks %}<h2>Site checks</h2><table><tr><th>check</th><th>result</th><th>detail</th><th>requirements</th></tr>
{% for c in pack.checks %}<tr class="{{ 'proven' if c.passed else 'failed' }}"><td>{{ c.name }}</td>
<td class="status">{{ 'pass' if c.passed else 'FAIL' }}</td><td><code>{{ c.detail }}</code></td>
<td>{{ c.requirements|join(", ") }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Requirements</h2>
<table><tr><th>id</th><th>requirement</th><th>status</th><th>designed against</th><th>proved by (latest result)</th></tr>
{% for r in pack.requirements %}<tr class="{{ r.status }}" id="{{ r.id }}"><td class="id">{{ r.id }}{% if r.top15 %} &#9733;{% endif %}</td>
<td>{{ r.title }}<br><small>{{ r.section }}</small>{% if r.hazards %}<br><small>hazards: {{ r.hazards|join(", ") }}</small>{% endif %}</td>
<td class="status">{{ r.status|replace("_", " ") }}</td>
<td>{% for k, v in r.standards.items() %}<small>{{ k }}: {{ v|join(", ") }}</small><br>{% endfor %}</td>
<td>{% for p in r.proofs %}<span class="{{ 'fail' if p.outcome == 'failed' else p.outcome }}">{{ p.outcome|replace("_", " ") }}</span>
<code>{{ p.key }}</code>{% if p.cases > 1 %} <small>({{ p.cases }} cases)</small>{% endif %}
{% for f in p.failures %}<br><small class="fail">{{ f }}</small>{% endfor %}<br>{% else %}<span class="fail">nothing proves this requirement</span>{% endfor %}</td></tr>
{% endfor %}</table>
{% if pack.hazards %}<h2>Hazards</h2><table><tr><th>hazard</th><th>plant</th><th>status</th><th>requirements</th><th>scenarios</th></tr>
{% for h in pack.hazards %}<tr class="{{ h.status }}"><td>{{ h.id }}<br><small>{{ h.title }}</small></td><td>{{ h.plant }}</td>
<td class="status">{{ h.status|replace("_", " ") }}</td>
<td>{% for rid in h.requirements %}<a href="#{{ rid }}">{{ rid }}</a> {% endfor %}</td><td>{{ h.scenarios|join(", ") }}</td></tr>{% endfor %}</table>{% endif %}
{% if pack.benchmarks %}<h2>Benchmarks</h2><table><tr><th>figure</th><th>value</th><th>target</th><th>met</th><th>what</th></tr>
{% for b in pack.benchmarks %}<tr><td>{{ b.name }}</td><td>{{ b.value }} {{ b.unit }}</td><td>{{ b.target if b.target is not none else "" }}</td>
<td>{{ {True: "yes", False: "no", None: ""}[b.met] }}</td><td>{{ b.what }}</td></tr>{% endfor %}</table>{% endif %}
</body></html>
"""


def render_html(pack: dict[str, Any]) -> str:
    environment = Environment(autoescape=True, keep_trailing_newline=True)
    return environment.from_string(_TEMPLATE).render(pack=pack, s=pack["summary"])
