# %% [answer] id=variance_reduction
def variance_reduction(y, left_mask):
    """Total squared errors around each mean, by hand, divided by n at the end."""
    y = np.asarray(y, dtype=float)
    left_mask = np.asarray(left_mask, dtype=bool)
    if left_mask.all() or not left_mask.any():
        return 0.0

    def squared_error(values):
        total = 0.0
        mean = sum(values) / len(values)
        for value in values:
            total += (value - mean) ** 2
        return total

    return (squared_error(y) - squared_error(y[left_mask]) - squared_error(y[~left_mask])) / len(y)
