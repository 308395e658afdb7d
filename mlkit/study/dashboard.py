"""`mlkit study`: the study dashboard, one self-contained HTML page (no script, no network).

`report.html` in the self-study workspace, rewritten after every attempt:
- what to practise next: what the schedule says is due, the checks that
  failed most often first, and the level to take;
- progress per notebook, for each of the ten algorithms: the levels open,
  mastery from evidence and the learner's own rating, the last score with its
  level and the time it took, when it is due, the trend of scores over
  attempts, and the latest feedback;
- the study plan's checkpoints with what is done, and all attempts' trend.
"""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote
from pathlib import Path

from mlkit.authoring import catalog
from mlkit.study import history as histories
from mlkit.study import schedule

MASTERY_WORDS = {1: "cannot", 2: "vaguely", 3: "can code", 4: "can derive and code", 5: "can teach"}
MASTERY_COLOURS = {1: "#d0d7de", 2: "#f2cc60", 3: "#54aeff", 4: "#4ac26b", 5: "#1a7f37"}

CSS = """
body { font-family: system-ui, sans-serif; margin: 24px; max-width: 1232px; color: #1f2328; }
h1 { margin: 0 0 4px 0; font-size: 26px; } h2 { font-size: 19px; margin: 28px 0 8px 0; }
.summary { color: #59636e; margin-bottom: 8px; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border-bottom: 1px solid #d8dee4; padding: 6px 8px; text-align: left; vertical-align: middle;
         font-size: 14px; overflow-wrap: anywhere; }
th { background: #f6f8fa; font-weight: 600; }
.mastery { display: inline-block; min-width: 26px; text-align: center; border-radius: 12px; padding: 1px 8px;
           font-weight: 600; }
.due-now { color: #cf222e; font-weight: 600; } .over { color: #cf222e; }
.done { color: #1a7f37; font-weight: 600; } .todo { color: #59636e; }
.checkpoints li { margin: 4px 0; }
"""


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def trend_svg(fractions: list[float], width: int = 200, height: int = 36, label: str = "scores") -> str:
    """Scores over attempts (each a fraction of full marks) as a small line with dots; red dots fell short."""
    if not fractions:
        return "<span class='todo'>no attempt yet</span>"
    step = (width - 12) / max(len(fractions) - 1, 1)
    points = [(6 + i * step, height - 5 - (height - 10) * f) for i, f in enumerate(fractions)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{'#1a7f37' if f >= 1 else '#cf222e'}'/>"
                   for (x, y), f in zip(points, fractions))
    return (f"<svg class='mlkit-progress' width='{width}' height='{height}' role='img' "
            f"aria-label='{html.escape(label)}'>"
            f"<line x1='0' y1='{height - 5}' x2='{width}' y2='{height - 5}' stroke='#d8dee4'/>"
            f"<polyline points='{line}' fill='none' stroke='#54aeff' stroke-width='2'/>{dots}</svg>")


def _weakest_checks(attempts) -> list[str]:
    """Checks of these attempts, those that failed in the latest attempt first, then by how often they failed."""
    failures: dict[str, int] = {}
    for attempt in attempts:
        for check, passed in attempt.checks.items():
            failures[check] = failures.get(check, 0) + (not passed)
    latest = [c for c, passed in attempts[-1].checks.items() if not passed] if attempts else []
    rest = [c for c, n in sorted(failures.items(), key=lambda kv: -kv[1]) if n and c not in latest]
    return latest + rest


def _next_practice(record, statuses, now) -> str:
    rows = []
    # Due by the schedule, or the last attempt fell short (practise again now; the schedule brings it back tomorrow).
    wanted = [s for s in statuses if s.attempts and (s.is_due(now) or not record.of(s.assignment)[-1].perfect)]
    for s in sorted(wanted, key=lambda s: (s.due, s.mastery)):
        attempts = record.of(s.assignment)
        level = s.levels[-1] if attempts[-1].perfect else attempts[-1].level
        why = "last attempt fell short" if not attempts[-1].perfect else "due for review (FSRS)"
        rows.append(f"<tr><td>{html.escape(s.assignment)}</td><td class='due-now'>today</td><td>{why}</td>"
                    f"<td>{level}</td><td>{html.escape(', '.join(_weakest_checks(attempts)) or '-')}</td></tr>")
    if not rows:
        return "<p class='todo'>Nothing practised is due today; start a new algorithm, or a mock interview.</p>"
    return ("<table><colgroup><col style='width:20%'><col style='width:10%'><col style='width:22%'>"
            "<col style='width:10%'><col style='width:38%'></colgroup><tr><th>notebook</th><th>due</th><th>why</th>"
            "<th>level</th><th>weakest checks first</th></tr>" + "".join(rows) + "</table>")


def render(record: histories.History, now: dt.datetime | None = None, workspace: Path | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    assignments = catalog.assignments()
    statuses = [schedule.status(record, a, now) for a in assignments]
    strong = sum(s.mastery >= 4 for s in statuses)
    rows = []
    for s in statuses:
        feedback = next((workspace / "feedback" / histories.LEARNER / s.assignment).glob("*.html"), None) if workspace else None
        link = (f" <a href='{html.escape(quote(feedback.relative_to(workspace).as_posix()))}'>feedback</a>"
                if feedback else "")
        attempts = record.of(s.assignment)
        fractions = [a.score / a.max_score if a.max_score else 0.0 for a in attempts]
        due = "<span class='due-now'>now</span>" if s.is_due(now) else s.due.astimezone().strftime("%a %d %b")
        time_taken = _minutes(s.last_seconds) + (" <span class='over'>over time</span>" if s.last_over_time else "")
        colour = MASTERY_COLOURS[s.mastery]
        rows.append(
            f"<tr><td>{html.escape(s.assignment)}</td><td>{html.escape(', '.join(s.levels))}</td>"
            f"<td><span class='mastery' style='background:{colour}' title='{MASTERY_WORDS[s.mastery]}'>{s.mastery}</span>"
            f" {MASTERY_WORDS[s.mastery]}</td><td>{s.self_rating or '-'}</td>"
            f"<td>{s.last_score} <span class='todo'>{s.last_level if s.attempts else ''}</span>{link}</td>"
            f"<td>{time_taken}</td><td>{due}</td><td>{trend_svg(fractions, label=s.assignment)}</td></tr>")
    plan = []
    for day, what, done in schedule.checkpoints(record):
        mark = "<span class='done'>done</span>" if done else "<span class='todo'>to do</span>"
        plan.append(f"<li>day {day}: {html.escape(what)} — {mark}</li>")
    overall = [a.score / a.max_score if a.max_score else 0.0 for a in record.attempts]
    notice = f"<p class='over'>{html.escape(record.notice)}</p>" if record.notice else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Study dashboard</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Study dashboard</h1><div class='summary'>{strong} of {len(statuses)} algorithms at mastery 4 or 5 "
        f"(the target: all of them) · {len(record.attempts)} graded attempts · "
        f"{now.astimezone().strftime('%Y-%m-%d %H:%M')}</div>{notice}"
        "<h2>What to practise next</h2>" + _next_practice(record, statuses, now)
        + "<h2>Progress per notebook</h2><table><colgroup><col style='width:17%'><col style='width:15%'><col style='width:17%'>"
        "<col style='width:6%'><col style='width:10%'><col style='width:9%'><col style='width:8%'>"
        "<col style='width:18%'></colgroup>"
        "<tr><th>algorithm</th><th>levels open</th><th>mastery (evidence)</th><th>your rating</th>"
        "<th>last score</th><th>time taken</th><th>due</th><th>trend</th></tr>"
        + "".join(rows) + "</table>"
        "<h2>Study plan</h2><ul class='checkpoints'>" + "".join(plan) + "</ul>"
        "<h2>All attempts</h2>" + trend_svg(overall, width=1200, height=90, label="all attempts")
        + "</body></html>")


def write(workspace: Path, now: dt.datetime | None = None) -> Path:
    record = histories.load(workspace)
    path = workspace / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(record, now, workspace), encoding="utf-8")
    return path


def command(args) -> int:
    """`mlkit study` (see mlkit.cli): write the dashboard, print its path and open it in a browser."""
    import os
    import webbrowser

    from mlkit.study import selfgrade

    page = write(selfgrade.default_workspace(args.workspace))
    print(page)
    if not args.no_open and not os.environ.get("CI"):
        webbrowser.open(page.as_uri())
    return 0
