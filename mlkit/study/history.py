"""The learner's study history: every graded attempt, explanation rating and practice session, in one file.

`history.json` in the self-study workspace, format version 2:

    {"version": 2,
     "attempts": [{assignment, when, score, max_score, checks, mistakes,
                   level, seconds, limit_seconds, over_time, hints, session, tries}, ...],
     "explanations": [{assignment, when, rating}, ...],   # 60-second answer vs the model answer, 1-5
     "self_ratings": {assignment: 1-5},                    # the learner's own mastery rating
     "pending_hints": {assignment: [{check, step, when}]},  # revealed since its last attempt (mlkit hint)
     "sessions": {notebook path: {assignment, level, started, minutes}},
     "followups": [{assignment, followup, kind, topic, when, rating, score, max_score, mistakes, passed}, ...]}
                                                           # interview follow-ups (record_followup)

A session is one timed attempt at an algorithm: it starts with `mlkit
practice` and ends with the first full-marks selfgrade of its notebook.  Every
selfgrade in between is an attempt of that session (`session` is its start
time, `tries` counts the selfgrades of the session so far, this one
included), so the full-marks attempt's `seconds` and `tries` are the time and
the tries it took to reach full marks.  A hint step of `GIVE_UP` records that
the learner asked for the model answer before full marks.

Version 1 (a JSON list of attempts, without level or time) is read and
upgraded: those attempts count as guided ones of unknown duration.  A file
that cannot be read is never overwritten: it is moved aside (beside it, with
`.corrupt-<time>` appended), the learner is told where (on stderr, by
whichever command read it), and a new history starts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

VERSION = 2
GIVE_UP = 4  # the hint step recorded by `mlkit hint --give-up` (the model answer before full marks)
LEARNER = "learner"  # the student id of the self-study workspace's own nbgrader course


@dataclass
class Attempt:
    assignment: str
    when: str
    score: float
    max_score: float
    checks: dict[str, bool]
    mistakes: list[str]
    level: str = "guided"
    seconds: float | None = None        # from `mlkit practice` to the graded attempt
    limit_seconds: float | None = None
    over_time: bool = False
    hints: list[dict] = field(default_factory=list)  # revealed before this attempt: {"check": id, "step": 1..4}
    session: str | None = None          # the start time of its `mlkit practice` session
    tries: int = 1                      # selfgrades of that session up to this one

    @property
    def perfect(self) -> bool:
        return self.max_score > 0 and self.score >= self.max_score


@dataclass
class History:
    attempts: list[Attempt] = field(default_factory=list)
    explanations: list[dict] = field(default_factory=list)
    self_ratings: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    pending_hints: dict[str, list[dict]] = field(default_factory=dict)
    followups: list[dict] = field(default_factory=list)  # see record_followup
    notice: str = ""  # set when the file on disk had to be kept aside

    def of(self, assignment: str) -> list[Attempt]:
        return [a for a in self.attempts if a.assignment == assignment]

    def session_of(self, attempt: Attempt) -> list[Attempt]:
        """The attempts of `attempt`'s practice session up to it (just itself when it had no session)."""
        if attempt.session is None:
            return [attempt]
        # The object itself where it is in this history (two attempts can be equal), else an equal one.
        at = next((i for i, a in enumerate(self.attempts) if a is attempt), None)
        at = self.attempts.index(attempt) if at is None else at
        upto = self.attempts[:at + 1]
        return [a for a in upto if a.assignment == attempt.assignment and a.session == attempt.session]

    def hints_for(self, attempt: Attempt) -> list[dict]:
        """Every hint revealed during `attempt`'s session before it was graded."""
        return [hint for a in self.session_of(attempt) for hint in a.hints]


def passed_followups(history: History, assignment: str) -> dict[str, bool]:
    """{follow-up id: whether its latest answer passed} for `assignment`, from the records of
    `record_followup` (spoken: rated 4 or 5 against the model answer; code: full marks)."""
    latest: dict[str, bool] = {}
    for entry in history.followups:
        if entry.get("assignment") == assignment:
            latest[str(entry.get("followup"))] = bool(entry.get("passed"))
    return latest


def default_workspace(given: str | Path | None = None) -> Path:
    """The self-study workspace: `given` (a --workspace option), else $MLKIT_SELFSTUDY, else ~/.mlkit-selfstudy."""
    if given:
        return Path(given)
    return Path(os.environ.get("MLKIT_SELFSTUDY", Path.home() / ".mlkit-selfstudy"))


def workspace_option(workspace: Path | None) -> list[str]:
    """The `--workspace` words a printed command needs to reach `workspace`: none for the default one."""
    if workspace is None or Path(workspace).resolve() == default_workspace().resolve():
        return []
    return ["--workspace", str(Path(workspace).resolve())]


def timing(history: History, notebook: Path, now: dt.datetime | None = None) -> tuple[str | None, float | None, float | None]:
    """(level, elapsed seconds, limit seconds) of the `mlkit practice` session that wrote `notebook`, from its
    entry in `history.sessions`; (None, None, None) for a notebook no session wrote.  `now`: an aware time."""
    session = history.sessions.get(str(notebook.resolve()))
    if not session:
        return None, None, None
    now = now or dt.datetime.now(dt.timezone.utc)
    elapsed = (now - dt.datetime.fromisoformat(session["started"])).total_seconds()
    return session["level"], max(elapsed, 0.0), 60.0 * float(session["minutes"])


def path(workspace: Path) -> Path:
    return workspace / "history.json"


def _attempt(entry: dict) -> Attempt:
    known = {name for name in Attempt.__dataclass_fields__}
    values = {k: v for k, v in entry.items() if k in known}
    return Attempt(**values)


def _parse(data) -> History:
    if isinstance(data, list):  # version 1
        return History(attempts=[_attempt(e) for e in data])
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise ValueError("not a history (no version)")
    if data["version"] > VERSION:
        raise ValueError(f"written by a newer mlkit (format {data['version']}, this one reads up to {VERSION})")
    return History(attempts=[_attempt(e) for e in data.get("attempts", [])],
                   explanations=list(data.get("explanations", [])),
                   self_ratings={str(k): int(v) for k, v in data.get("self_ratings", {}).items()},
                   sessions=dict(data.get("sessions", {})),
                   pending_hints={str(k): list(v) for k, v in data.get("pending_hints", {}).items()},
                   followups=list(data.get("followups", [])))


def load(workspace: Path) -> History:
    """The history in `workspace` (empty if there is none); an unreadable file is moved aside, not lost."""
    file = path(workspace)
    if not file.exists():
        return History()
    try:
        return _parse(json.loads(file.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as error:
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
        kept = file.with_name(f"{file.name}.corrupt-{stamp}")
        os.replace(file, kept)
        notice = (f"the study history could not be read ({type(error).__name__}: {str(error)[:120]}); "
                  f"it was kept as {kept} and a new history was started")
        print(f"mlkit: {notice}", file=sys.stderr)  # every command that reads the history reports it here
        return History(notice=notice)


def save(workspace: Path, history: History) -> None:
    """Write atomically: a crash mid-write leaves the previous file, never half of one."""
    data = {"version": VERSION, "attempts": [asdict(a) for a in history.attempts],
            "explanations": history.explanations, "self_ratings": history.self_ratings,
            "sessions": history.sessions, "pending_hints": history.pending_hints, "followups": history.followups}
    file = path(workspace)
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(file.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temporary, file)


def record_followup(history: History, assignment: str, followup: str, kind: str, topic: str, when: str, *,
                    rating: int | None = None, score: float | None = None, max_score: float | None = None,
                    mistakes: list[str] | None = None) -> dict:
    """Append one answered interview follow-up question (`mlkit followup`) to `history.followups`; returns it.

    The record, one JSON object per answer (the latest of a follow-up is the one that counts):

        {"assignment": "02_logistic_regression",   # the course notebook the follow-up belongs to
         "followup": "complexity",                  # its id in catalog/<assignment>/followups.toml
         "kind": "spoken" | "code",
         "topic": "complexity" | "stability" | "change" | ...,
         "when": "2026-12-07T09:00:00+00:00",       # ISO 8601 with the offset
         "rating": 1..5 | None,                     # spoken: the learner's rating against the model answer
         "score": float | None, "max_score": float | None,   # code: the exercise's hidden tests' points
         "mistakes": [mistake id, ...],             # code: the mistakes its failed checks named ([] if none)
         "passed": bool}                            # spoken: rating >= 4; code: full marks

    Inputs: a spoken answer gives `rating` (1-5) and no score; a graded exercise gives `score` and
    `max_score` (and `mistakes`) and no rating.
    """
    if kind == "spoken":
        passed = rating is not None and rating >= 4
    else:
        passed = score is not None and max_score is not None and max_score > 0 and score >= max_score
    entry = {"assignment": assignment, "followup": followup, "kind": kind, "topic": topic, "when": when,
             "rating": rating, "score": score, "max_score": max_score, "mistakes": list(mistakes or []),
             "passed": passed}
    history.followups.append(entry)
    return entry
