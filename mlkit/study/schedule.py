"""What the graded evidence says: each algorithm's mastery, unlocked levels and next review.

Scheduling is FSRS (the `fsrs` package, the scheduler Anki uses): every
algorithm is one card, every graded attempt one review of it, replayed from
the history in order, so the schedule is always what the evidence gives.
The rating of an attempt comes from its result:

    any failed check                                   Again
    full marks, after revealing hints or over time     Hard   (each hint lowers the rating one step)
    full marks at the guided or blank level            Good
    full marks at the interview level, within time     Easy

Mastery on the 1-5 scale, from spaced evidence only (the learner's own
rating is kept beside it, never mixed in).  A *pass from memory* is an
attempt with full marks at the blank or interview level, timed by `mlkit
practice` and within its time, whose session revealed no hint beyond the
first step (a question) and no model answer (`mlkit hint --give-up`):

    1  no graded attempt yet
    2  attempted, never full marks
    3  full marks at any level
    4  two passes from memory on different days, at least 3 days apart
    5  4, then an interview-level pass from memory at least 3 days after the
       pass that reached 4, the 60-second explanation rated 4 or 5 against the
       model answer, and at least 3 follow-up questions answered, the latest
       answer of each passed (rated 4 or 5, or full marks for a code one)

Levels unlock in order: blank after full marks at guided, interview after
full marks at blank (a mock interview may be taken at any time).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fsrs import Card, Rating, Scheduler

from mlkit.study.history import Attempt, History, passed_followups
from mlkit.study.levels import LEVELS

# Algorithms are practised over days, not minutes: no same-day learning steps, and an attempt with a failed
# check brings the algorithm back the next day.
SCHEDULER = Scheduler(learning_steps=(), relearning_steps=(dt.timedelta(days=1),), enable_fuzzing=False)



@dataclass(frozen=True)
class Evidence:
    """One piece of a checkpoint's evidence: `kind` "mock", "explained" or a level (see `met`) of `assignment`
    ("*": any), within `minutes` when the plan names a time (the session's limit at most that, and kept)."""
    assignment: str
    kind: str
    minutes: int | None = None


# The study plan the kit is built around: (day, what, the evidence that ticks it off); a time the plan names is
# the limit the evidence is held to (docs/self-study.md, "The study plan").
PLAN = (
    (0, "linear and logistic regression from memory",
     [Evidence("01_linear_regression", "blank"), Evidence("02_logistic_regression", "blank")]),
    (3, "KNN (vectorised distances) and k-means with k-means++ from memory; the logistic gradient derived",
     [Evidence("07_knn", "blank"), Evidence("08_kmeans", "blank"), Evidence("02_logistic_regression", "explained")]),
    (7, "the network's forward and backward pass from memory; PCA and SVD; cross-validation and stratification",
     [Evidence("05_neural_network", "blank"), Evidence("09_pca", "explained"),
      Evidence("10_model_selection", "explained")]),
    (14, "softmax regression from memory in 15 minutes; L2 in logistic regression; a full pipeline",
     [Evidence("03_softmax_regression", "interview", 15), Evidence("02_logistic_regression", "interview"),
      Evidence("10_model_selection", "blank")]),
    (21, "a mock interview: an algorithm from scratch in 20 minutes, explained shape by shape",
     [Evidence("*", "mock", 20)]),
)


def rating(attempt: Attempt) -> Rating:
    if not attempt.perfect:
        return Rating.Again
    best = Rating.Easy if attempt.level == "interview" and not attempt.over_time else Rating.Good
    if attempt.over_time:
        best = Rating.Hard
    return Rating(max(int(Rating.Again), int(best) - len(attempt.hints)))


def utc(when: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(when)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a local time, as the history records it
    return moment.astimezone(dt.timezone.utc)


def card(attempts: list[Attempt]) -> Card | None:
    """The FSRS card after replaying these attempts (None before the first)."""
    if not attempts:
        return None
    current = Card()
    for attempt in attempts:
        current, _ = SCHEDULER.review_card(current, rating(attempt), utc(attempt.when))
    return current


def explained_well(history: History, assignment: str) -> bool:
    return any(e.get("assignment") == assignment and int(e.get("rating", 0)) >= 4 for e in history.explanations)


SPACING = dt.timedelta(days=3)   # between two passes from memory that count towards mastery 4 and 5
FOLLOWUPS_FOR_MASTERY = 3        # answered follow-up questions, each passed, for mastery 5


def from_memory(history: History, attempt: Attempt) -> bool:
    """A pass from memory: full marks at blank or interview level, timed and within time, its session's hints
    no further than the first step (a question) and no model answer asked for."""
    return (attempt.perfect and attempt.level in ("blank", "interview") and attempt.seconds is not None
            and attempt.limit_seconds is not None and not attempt.over_time
            and all(int(h.get("step") or 0) <= 1 for h in history.hints_for(attempt)))


def spaced_passes(history: History, assignment: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(when mastery 4 was reached, when mastery 5's interview pass was made), each None until it is."""
    passes = [(utc(a.when), a) for a in history.of(assignment) if from_memory(history, a)]
    fourth = None
    for i, (when, _) in enumerate(passes):
        if any(when - earlier >= SPACING for earlier, _ in passes[:i]):  # 3 days apart: two different days
            fourth = when
            break
    if fourth is None:
        return None, None
    fifth = next((when for when, a in passes if a.level == "interview" and when - fourth >= SPACING), None)
    return fourth, fifth


def followups_passed(history: History, assignment: str) -> bool:
    latest = passed_followups(history, assignment)
    return len(latest) >= FOLLOWUPS_FOR_MASTERY and all(latest.values())


def mastery(history: History, assignment: str) -> int:
    attempts = history.of(assignment)
    if not attempts:
        return 1
    fourth, fifth = spaced_passes(history, assignment)
    if fourth is not None:
        if fifth is not None and explained_well(history, assignment) and followups_passed(history, assignment):
            return 5
        return 4
    return 3 if any(a.perfect for a in attempts) else 2


def unlocked(history: History, assignment: str) -> list[str]:
    """The levels open to the learner: each one after full marks at the level before it."""
    open_levels = ["guided"]
    for below, level in zip(LEVELS, LEVELS[1:]):
        if any(a.perfect and a.level == below for a in history.of(assignment)):
            open_levels.append(level)
        else:
            break
    return open_levels


@dataclass
class Status:
    assignment: str
    mastery: int
    self_rating: int | None
    levels: list[str]           # unlocked
    attempts: int
    last_score: str             # "12/12" or "-"
    last_level: str
    last_seconds: float | None
    last_over_time: bool
    due: dt.datetime | None     # None: never attempted (due now)
    retrievability: float | None

    def is_due(self, now: dt.datetime) -> bool:
        return self.due is None or self.due <= now


def status(history: History, assignment: str, now: dt.datetime | None = None) -> Status:
    now = now or dt.datetime.now(dt.timezone.utc)
    attempts = history.of(assignment)
    current = card(attempts)
    last = attempts[-1] if attempts else None
    return Status(
        assignment=assignment, mastery=mastery(history, assignment),
        self_rating=history.self_ratings.get(assignment), levels=unlocked(history, assignment),
        attempts=len(attempts), last_score=f"{last.score:g}/{last.max_score:g}" if last else "-",
        last_level=last.level if last else "-", last_seconds=last.seconds if last else None,
        last_over_time=bool(last and last.over_time), due=current.due if current else None,
        retrievability=SCHEDULER.get_card_retrievability(current, now) if current else None)


def weakest(history: History, assignments: list[str], now: dt.datetime | None = None) -> str:
    """What a mock interview should ask: the most overdue algorithm, then the least mastered, then the least
    likely to be recalled now."""
    now = now or dt.datetime.now(dt.timezone.utc)
    statuses = [status(history, a, now) for a in assignments]

    def urgency(s: Status):
        overdue = (now - s.due).total_seconds() if s.due else float("inf")
        return (-(overdue if s.is_due(now) else -1.0), s.mastery, s.retrievability or 0.0, s.assignment)

    return min(statuses, key=urgency).assignment


def met(history: History, assignment: str, kind: str, minutes: int | None = None) -> bool:
    """Whether the history holds one piece of a checkpoint's evidence: `kind` "mock" (any interview-level pass
    within time), "explained" (the explanation rated 4 or 5) or a level (full marks at it or above, within
    time); with `minutes`, only in a session whose limit was at most that many minutes."""
    def in_time(a: Attempt) -> bool:
        return not a.over_time and (minutes is None or (a.limit_seconds is not None and a.limit_seconds <= 60 * minutes))

    if kind == "mock":
        return any(a.level == "interview" and a.perfect and in_time(a) for a in history.attempts)
    if kind == "explained":
        return explained_well(history, assignment)
    levels = LEVELS[LEVELS.index(kind):]
    return any(a.perfect and a.level in levels and in_time(a) for a in history.of(assignment))


def checkpoints(history: History) -> list[tuple[int, str, bool]]:
    """(day, what, done) for each checkpoint of the study plan."""
    return [(day, what, all(met(history, e.assignment, e.kind, e.minutes) for e in evidence))
            for day, what, evidence in PLAN]


def missing(history: History, day: int) -> Evidence | None:
    """The first evidence of the checkpoint of `day` the history does not hold yet (None: done)."""
    evidence = next(e for d, _, e in PLAN if d == day)
    return next((e for e in evidence if not met(history, e.assignment, e.kind, e.minutes)), None)
