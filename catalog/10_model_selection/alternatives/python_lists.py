# %% [answer] id=split
from collections import defaultdict


def train_test_split(X, y, test_size=0.2, random_state=None, stratify=None):
    """Index bookkeeping in Python lists; per-class groups from a defaultdict."""
    rng = np.random.default_rng(random_state)
    n = len(X)
    if stratify is None:
        groups = {None: list(range(n))}
    else:
        groups = defaultdict(list)
        for row, label in enumerate(stratify):
            groups[int(label)].append(row)
    test_rows, train_rows = [], []
    for key in sorted(groups, key=lambda g: -1 if g is None else g):
        rows = groups[key]
        shuffled = [rows[j] for j in rng.permutation(len(rows))]
        cut = int(len(rows) * test_size)
        test_rows += shuffled[:cut]
        train_rows += shuffled[cut:]
    train_rows = np.array(train_rows, dtype=int)
    test_rows = np.array(test_rows, dtype=int)
    return X[train_rows], X[test_rows], y[train_rows], y[test_rows]

# %% [answer] id=cross_validation
import itertools


def k_fold_cross_validation(X, y, model_class, model_params, k=5, metric_fn=None, random_state=42):
    """Folds as lists of positions; the training rows chained from the other folds."""
    n = len(X)
    order = np.random.default_rng(random_state).permutation(n).tolist()
    per_fold = n // k
    folds = [order[f * per_fold:(f + 1) * per_fold] for f in range(k - 1)]
    folds.append(order[(k - 1) * per_fold:])
    metric = metric_fn if metric_fn is not None else (lambda t, p: float(np.sum(t == p)) / len(t))
    scores = []
    for f in range(k):
        train = list(itertools.chain.from_iterable(folds[:f] + folds[f + 1:]))
        model = model_class(**model_params)
        model.fit(X[train], y[train])
        scores.append(metric(y[folds[f]], model.predict(X[folds[f]])))
    return {"scores": scores, "mean": float(np.mean(scores)), "std": float(np.std(scores, ddof=0))}

# %% [answer] id=stratified_folds
from collections import defaultdict


def stratified_k_fold(X, y, k=5, random_state=42):
    """Per-class lists dealt one row at a time to the folds."""
    rng = np.random.default_rng(random_state)
    by_class = defaultdict(list)
    for row, label in enumerate(np.asarray(y).tolist()):
        by_class[label].append(row)
    folds = [[] for _ in range(k)]
    for label in sorted(by_class):
        rows = by_class[label]
        for position, j in enumerate(rng.permutation(len(rows))):
            folds[position % k].append(rows[j])
    n = len(y)
    for f in range(k):
        in_test = set(folds[f])
        yield [r for r in range(n) if r not in in_test], sorted(in_test)   # index lists: SPEC asks for the indices
