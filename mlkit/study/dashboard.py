"""`mlkit study`: the study dashboard, one self-contained HTML page (no script, no network).

`report.html` in the self-study workspace, rewritten after every attempt:
- do this next: one command to paste, written the way the learner started the
  kit (`./run practice ...` in a checkout, `mlkit practice ...` installed;
  `mlkit.invocation`), always at a level that is open;
- what to practise next: what the schedule says is due, the checks that
  failed most often first, the level to take and its command; then the
  algorithms not started yet;
- progress per notebook, for each of the ten algorithms: the levels open,
  mastery from evidence and the learner's own ratings (mastery, latest explanation), the last score with its
  level and the time it took, when it is due, the trend of scores over
  attempts, and the latest feedback;
- the study plan's checkpoints with what is done, and all attempts' trend.
"""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote
from pathlib import Path

from mlkit import invocation, layout
from mlkit.study import history as histories
from mlkit.study import levels, practice, schedule

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
code { font-family: ui-monospace, monospace; font-size: 13px; background: #f6f8fa; padding: 1px 4px;
       border-radius: 4px; }
.next { border: 2px solid #1a7f37; border-radius: 8px; padding: 10px 14px; margin: 8px 0 4px 0; }
.next code { font-size: 15px; user-select: all; }
.axis { font-size: 10px; fill: #59636e; }
"""


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def trend_svg(fractions: list[float], width: int = 200, height: int = 56, label: str = "scores") -> str:
    """Scores over attempts (each a fraction of full marks) as a line with dots, on axes: score 0-100 % up,
    attempt number along; green dots are full marks, red ones fell short."""
    if not fractions:
        return "<span class='todo'>no attempt yet</span>"
    left, right, top, bottom = 34, 8, 6, 16  # room for the score ticks and the attempt axis's label
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(fractions) - 1, 1)
    points = [(left + (i * step if len(fractions) > 1 else plot_w / 2), top + plot_h * (1 - f))
              for i, f in enumerate(fractions)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='3' fill='{'#1a7f37' if f >= 1 else '#cf222e'}'/>"
                   for (x, y), f in zip(points, fractions))
    base = top + plot_h
    axes = (f"<line x1='{left}' y1='{top}' x2='{left}' y2='{base}' stroke='#8c959f'/>"
            f"<line x1='{left}' y1='{base}' x2='{width - right}' y2='{base}' stroke='#8c959f'/>"
            f"<text class='axis' x='{left - 3}' y='{top + 8}' text-anchor='end'>100%</text>"
            f"<text class='axis' x='{left - 3}' y='{base}' text-anchor='end'>0%</text>"
            f"<text class='axis' x='{left}' y='{height - 3}'>attempt 1</text>"
            f"<text class='axis' x='{width - right}' y='{height - 3}' text-anchor='end'>"
            f"{len(fractions)}{' (score per attempt)' if width >= 400 else ''}</text>")
    return (f"<svg class='mlkit-progress' width='{width}' height='{height}' role='img' "
            f"aria-label='{html.escape(label)}: score per attempt, 0 to 100 %'>{axes}"
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


def practice_command(history: histories.History, assignment: str, level: str | None = None,
                     extra: tuple[str, ...] = (), minutes: int | None = None) -> str:
    """The command that practises `assignment` at `level` if that level is open, else at its highest open
    level; an interview the learner has not unlocked yet is a mock interview (always open); `minutes`: a time
    limit other than the level's own."""
    open_levels = schedule.unlocked(history, assignment)
    mock = level == "interview" and level not in open_levels
    chosen = "interview" if mock else level if level in open_levels else open_levels[-1]
    limit = ("--minutes", str(minutes)) if minutes not in (None, levels.DEFAULT_MINUTES[chosen]) else ()
    if mock:
        return invocation.command("practice", assignment, "--mock", *limit, *extra)
    return invocation.command("practice", assignment, "--level", chosen, *limit, *extra)


def _due_rows(record, statuses, now, extra) -> list[tuple[str, str, str, list[str], str]]:
    """(assignment, why, level, weakest checks, command) of what is due, most urgent first."""
    rows = []
    # Due by the schedule, or the last attempt fell short (practise again now; the schedule brings it back tomorrow).
    wanted = [s for s in statuses if s.attempts and (s.is_due(now) or not record.of(s.assignment)[-1].perfect)]
    for s in sorted(wanted, key=lambda s: (s.due, s.mastery)):
        attempts = record.of(s.assignment)
        if attempts[-1].perfect:
            why, level = "due for review (FSRS)", s.levels[-1]
        else:
            why, level = "last attempt fell short", attempts[-1].level
        command = practice_command(record, s.assignment, level, extra)
        shown_level = "interview (mock)" if " --mock" in command else command.split(" --level ")[1].split()[0]
        rows.append((s.assignment, why, shown_level, _weakest_checks(attempts), command))
    return rows


def _next_practice(record, statuses, now, extra) -> str:
    due = _due_rows(record, statuses, now, extra)
    new = [s.assignment for s in statuses if not s.attempts]
    if due:
        first_command, first_what = due[0][4], f"{due[0][0]}: {due[0][1]}"
    elif new:
        first_command, first_what = practice_command(record, new[0], None, extra), f"{new[0]}: not started yet"
    else:
        first_command, first_what = invocation.command("practice", "--mock", *extra), "nothing is due: a mock interview"
    box = (f"<div class='next'><b>Do this next</b> ({html.escape(first_what)}):<br>"
           f"<code id='next-command'>{html.escape(first_command)}</code></div>")
    rows = "".join(
        f"<tr><td>{html.escape(a)}</td><td class='due-now'>today</td><td>{why}</td><td>{level}</td>"
        f"<td>{html.escape(', '.join(checks) or '-')}</td><td><code>{html.escape(command)}</code></td></tr>"
        for a, why, level, checks, command in due)
    rows += "".join(
        f"<tr><td>{html.escape(a)}</td><td class='todo'>any time</td><td>not started yet</td><td>guided</td>"
        f"<td>-</td><td><code>{html.escape(practice_command(record, a, None, extra))}</code></td></tr>" for a in new)
    return (box + "<table><colgroup><col style='width:17%'><col style='width:8%'><col style='width:15%'>"
            "<col style='width:11%'><col style='width:19%'><col style='width:30%'></colgroup><tr><th>notebook</th>"
            "<th>due</th><th>why</th><th>level</th><th>weakest checks first</th><th>command</th></tr>"
            + rows + "</table>")


def _full_marks(record, assignment) -> str:
    """Time to full marks and tries of the latest full-marks attempt of a timed session."""
    timed = [a for a in record.of(assignment) if a.perfect and a.seconds is not None]
    if not timed:
        return "-"
    last = timed[-1]
    over = " <span class='over'>over time</span>" if last.over_time else ""
    return f"{_minutes(last.seconds)}, {last.tries} tr{'ies' if last.tries != 1 else 'y'}{over}"


def _explained(record: histories.History, assignment: str) -> str:
    """The learner's latest rating of their 60-second explanation of `assignment` ("explained 4/5"), or "-"."""
    ratings = [e.get("rating") for e in record.explanations if e.get("assignment") == assignment]
    return f"explained {ratings[-1]}/5" if ratings else "-"


def _plan(record, extra) -> str:
    """The study plan's checkpoints, each done from the history, or with the command of its next step."""
    first = min((schedule.utc(a.when) for a in record.attempts), default=None)
    items = []
    for day, what, done in schedule.checkpoints(record):
        when = f" ({(first + dt.timedelta(days=day)).astimezone():%a %d %b})" if first else ""
        if done:
            mark = "<span class='done'>done</span>"
        else:
            step = schedule.missing(record, day)
            assignment, kind = step.assignment, step.kind
            if kind == "mock":
                limit = ("--minutes", str(step.minutes)) if step.minutes not in (None, practice.MOCK_MINUTES) else ()
                command = invocation.command("practice", "--mock", *limit, *extra)
            elif kind == "explained" and any(a.perfect for a in record.of(assignment)):
                command = invocation.command("rate", assignment, "--explanation", *extra)
            else:
                command = practice_command(record, assignment, None if kind == "explained" else kind, extra,
                                           step.minutes)
            mark = f"<span class='todo'>to do: <code>{html.escape(command)}</code></span>"
        items.append(f"<li>day {day}{when}: {html.escape(what)} — {mark}</li>")
    return "<ul class='checkpoints'>" + "".join(items) + "</ul>"


def render(record: histories.History, now: dt.datetime | None = None, workspace: Path | None = None) -> str:
    now = now or dt.datetime.now(dt.timezone.utc)
    assignments = layout.assignments()
    statuses = [schedule.status(record, a, now) for a in assignments]
    extra = tuple(histories.workspace_option(workspace))  # printed commands reach this workspace
    strong = sum(s.mastery >= 4 for s in statuses)
    rows = []
    for s in statuses:
        # The feedback page names the fixes: linked once the latest attempt has full marks, never before.
        earned = bool(s.attempts) and record.of(s.assignment)[-1].perfect
        feedback = (next((workspace / "feedback" / histories.LEARNER / s.assignment).glob("*.html"), None)
                    if workspace and earned else None)
        link = (f" <a href='{html.escape(quote(feedback.relative_to(workspace).as_posix()))}'>feedback</a>"
                if feedback else "")
        attempts = record.of(s.assignment)
        fractions = [a.score / a.max_score if a.max_score else 0.0 for a in attempts]
        if not s.attempts:
            due = "<span class='todo'>not started</span>"
        else:
            due = "<span class='due-now'>now</span>" if s.is_due(now) else s.due.astimezone().strftime("%a %d %b")
        time_taken = _minutes(s.last_seconds) + (" <span class='over'>over time</span>" if s.last_over_time else "")
        colour = MASTERY_COLOURS[s.mastery]
        rows.append(
            f"<tr><td>{html.escape(s.assignment)}</td><td>{html.escape(', '.join(s.levels))}</td>"
            f"<td><span class='mastery' style='background:{colour}' title='{MASTERY_WORDS[s.mastery]}'>{s.mastery}</span>"
            f" {MASTERY_WORDS[s.mastery]}</td><td>{s.self_rating or '-'}; {_explained(record, s.assignment)}</td>"
            f"<td>{s.last_score} <span class='todo'>{s.last_level if s.attempts else ''}</span>{link}</td>"
            f"<td>{time_taken}</td><td>{_full_marks(record, s.assignment)}</td><td>{due}</td>"
            f"<td>{trend_svg(fractions, label=s.assignment)}</td></tr>")
    overall = [a.score / a.max_score if a.max_score else 0.0 for a in record.attempts]
    notice = f"<p class='over'>{html.escape(record.notice)}</p>" if record.notice else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Study dashboard</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Study dashboard</h1><div class='summary'>{strong} of {len(statuses)} algorithms at mastery 4 or 5 "
        f"(the target: all of them) · {len(record.attempts)} graded attempts · "
        f"{now.astimezone().strftime('%Y-%m-%d %H:%M')}</div>{notice}"
        "<h2>What to practise next</h2>" + _next_practice(record, statuses, now, extra)
        + "<h2>Progress per notebook</h2><table><colgroup><col style='width:15%'><col style='width:11%'>"
        "<col style='width:14%'><col style='width:6%'><col style='width:10%'><col style='width:7%'>"
        "<col style='width:10%'><col style='width:8%'><col style='width:19%'></colgroup>"
        "<tr><th>algorithm</th><th>levels open</th><th>mastery (evidence)</th><th>own rating; explanation</th>"
        "<th>last score</th><th>time taken</th><th>time to full marks</th><th>due</th><th>trend</th></tr>"
        + "".join(rows) + "</table>"
        "<h2>Study plan</h2>" + _plan(record, extra)
        + "<h2>All attempts</h2>" + trend_svg(overall, width=1200, height=120, label="all attempts")
        + "</body></html>")


def write(workspace: Path, now: dt.datetime | None = None) -> Path:
    record = histories.load(workspace)
    path = workspace / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(record, now, workspace), encoding="utf-8")
    return path


def command(args) -> int:
    """`mlkit study` (arguments: see mlkit.cli): write the dashboard, print its path and open it in a browser."""
    import os
    import webbrowser

    page = write(histories.default_workspace(args.workspace))
    print(page)
    if not args.no_open and not os.environ.get("CI"):
        webbrowser.open(page.as_uri())
    return 0
