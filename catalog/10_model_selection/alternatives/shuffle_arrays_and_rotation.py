# %% [answer] id=split
def train_test_split(X, y, test_size=0.2, random_state=None, stratify=None):
    """Shuffle X and y together, then slice; stratified: a per-class test mask, original row order kept."""
    rng = np.random.default_rng(random_state)
    n = len(y)
    if stratify is None:
        perm = rng.permutation(n)
        X_shuffled, y_shuffled = X[perm], y[perm]
        t = int(n * test_size)
        return X_shuffled[t:], X_shuffled[:t], y_shuffled[t:], y_shuffled[:t]
    mask = np.full(n, False)
    labels = np.asarray(stratify)
    for c in sorted(set(labels.tolist())):
        idx = np.nonzero(labels == c)[0]
        rng.shuffle(idx)
        mask[idx[: int(idx.size * test_size)]] = True
    return X[~mask], X[mask], y[~mask], y[mask]

# %% [answer] id=cross_validation
def k_fold_cross_validation(X, y, model_class, model_params, k=5, metric_fn=None, random_state=42):
    """Fold boundaries listed up front; scores kept as NumPy float64."""
    n = len(X)
    rng = np.random.default_rng(random_state)
    idx = np.arange(n)
    rng.shuffle(idx)
    m = n // k
    bounds = [i * m for i in range(k)] + [n]
    folds = [idx[bounds[i]:bounds[i + 1]] for i in range(k)]
    scores = []
    for i, test in enumerate(folds):
        train = np.hstack([folds[j] for j in range(k) if j != i])
        fitted = model_class(**model_params).fit(X[train], y[train])
        pred = fitted.predict(X[test])
        if metric_fn is None:
            scores.append((pred == y[test]).mean())
        else:
            scores.append(metric_fn(y[test], pred))
    arr = np.array(scores)
    return {"scores": scores, "mean": arr.mean(), "std": arr.std()}

# %% [answer] id=stratified_folds
def stratified_k_fold(X, y, k=5, random_state=42):
    """Round-robin dealing with a start offset that carries over between classes; int32 indices."""
    rng = np.random.default_rng(random_state)
    y = np.asarray(y)
    n = len(y)
    fold_of = np.zeros(n, dtype=np.int64)
    offset = 0
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        rows = rows[rng.permutation(rows.size)]
        fold_of[rows] = (offset + np.arange(rows.size)) % k
        offset = (offset + rows.size) % k
    for i in range(k):
        test = np.nonzero(fold_of == i)[0].astype(np.int32)
        train = np.nonzero(fold_of != i)[0].astype(np.int32)
        yield train, test
