# %% [answer] id=group_k_fold
def group_k_fold(groups, k):
    """Plain Python: a dict of rows per group, sorted by (-size, label), folds as lists."""
    rows_of = {}
    for row, g in enumerate(np.asarray(groups).tolist()):
        rows_of.setdefault(g, []).append(row)
    folds = [[] for _ in range(k)]
    for g in sorted(rows_of, key=lambda label: (-len(rows_of[label]), label)):
        lightest = min(range(k), key=lambda i: (len(folds[i]), i))
        folds[lightest].extend(rows_of[g])
    n = len(groups)
    for fold in folds:
        test = np.array(sorted(fold), dtype=int)
        mask = np.ones(n, dtype=bool)
        mask[test] = False
        yield np.flatnonzero(mask), test
