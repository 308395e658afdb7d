# %% [answer] id=split
def train_test_split(X, y, test_size=0.2, random_state=None, stratify=None):
    """Test rows drawn with rng.choice (without replacement); train rows from a boolean mask."""
    rng = np.random.default_rng(random_state)
    n = X.shape[0]
    in_test = np.zeros(n, dtype=bool)
    if stratify is None:
        in_test[rng.choice(n, size=int(n * test_size), replace=False)] = True
    else:
        stratify = np.asarray(stratify)
        for c in np.unique(stratify):
            rows = np.where(stratify == c)[0]
            in_test[rng.choice(rows, size=int(len(rows) * test_size), replace=False)] = True
    return X[~in_test], X[in_test], y[~in_test], y[in_test]

# %% [answer] id=cross_validation
import math


def k_fold_cross_validation(X, y, model_class, model_params, k=5, metric_fn=None, random_state=42):
    """Manual fold slicing with boolean masks; scores, mean and std as Python floats."""
    n = X.shape[0]
    shuffled = np.random.default_rng(random_state).permutation(n)
    size = n // k
    scores = []
    for fold in range(k):
        start = fold * size
        end = n if fold == k - 1 else start + size
        is_test = np.zeros(n, dtype=bool)
        is_test[shuffled[start:end]] = True
        model = model_class(**model_params)
        model.fit(X[~is_test], y[~is_test])
        predictions = model.predict(X[is_test])
        truth = y[is_test]
        if metric_fn is not None:
            scores.append(float(metric_fn(truth, predictions)))
        else:
            correct = sum(1 for a, b in zip(truth, predictions) if a == b)
            scores.append(correct / len(truth))
    mean = sum(scores) / k
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / k)
    return {"scores": scores, "mean": mean, "std": std}

# %% [answer] id=stratified_folds
def stratified_k_fold(X, y, k=5, random_state=42):
    """Each class's shuffled rows cut into k near-equal chunks; returns a list of (train, test) pairs."""
    y = np.asarray(y)
    rng = np.random.default_rng(random_state)
    test_folds = [[] for _ in range(k)]
    for label in np.unique(y):
        rows = rng.permutation(np.where(y == label)[0])
        base, extra = divmod(len(rows), k)
        start = 0
        for fold in range(k):
            size = base + (1 if fold < extra else 0)
            test_folds[fold].extend(rows[start:start + size].tolist())
            start += size
    everything = np.arange(len(y))
    pairs = []
    for fold in range(k):
        test = np.sort(np.array(test_folds[fold], dtype=np.int64))
        train = np.setdiff1d(everything, test)
        pairs.append((train, test))
    return pairs
