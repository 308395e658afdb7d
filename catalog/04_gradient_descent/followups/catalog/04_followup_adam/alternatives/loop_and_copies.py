# %% [answer] id=adam
def adam_step(w, grad, m, v, t, learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
    """Copies updated in place, one coordinate at a time, the corrections folded into the step size."""
    m, v, w = np.array(m, dtype=float), np.array(v, dtype=float), np.array(w, dtype=float)
    step = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    for i in range(len(w)):
        m[i] = beta1 * m[i] + (1 - beta1) * grad[i]
        v[i] = beta2 * v[i] + (1 - beta2) * grad[i] * grad[i]
        w[i] -= step * m[i] / (np.sqrt(v[i]) + eps * np.sqrt(1 - beta2 ** t))
    return w, m, v
