"""Loss functions and penalties over lists of Values.

Labels for two classes are +-1 (one score per sample); for k classes they are the class
indices 0 .. k-1 and each sample has k scores (logits), for softmax cross-entropy."""
import math

from .engine import Value, sigmoid


def mean(values):
    return Value.sum(values) / len(values)


def mse(preds, targets):
    """Mean squared error."""
    return mean([(p - y) ** 2 for p, y in zip(preds, targets)])


def hinge(scores, labels):
    """SVM max-margin loss: mean(relu(1 - y * score))."""
    return mean([(1.0 - y * s).relu() for s, y in zip(scores, labels)])


def bce_with_logits(logits, labels):
    """Binary cross-entropy on raw scores, stable for any logit (labels +-1 or 0/1).

    Each term max(z, 0) - z*t + log1p(exp(-|z|)) is one node with local
    derivative sigmoid(z) - t, the same formula the numpy engine uses."""
    terms = []
    for z, y in zip(logits, labels):
        t = 1.0 if y > 0 else 0.0
        x = z.data
        loss = max(x, 0.0) - x * t + math.log1p(math.exp(-abs(x)))
        terms.append(Value(loss, (z,), "bce", (sigmoid(x) - t,)))
    return mean(terms)


def class_index(label):
    """The class a label names: 0 .. k-1 for k classes; -1 / +1 (two classes) -> 0 / 1."""
    return int(label) if label > 0 else 0


def cross_entropy(logits, labels):
    """Softmax cross-entropy, the mean over samples, as torch.nn.functional.cross_entropy.

    logits: per sample a list of k Values; labels: class indices (or +-1 for two classes).
    Each term log(sum_j exp(z_j)) - z_label is computed as m + log(sum_j exp(z_j - m)) - z_label
    with m = max_j z_j, so no exp overflows, and is one node whose local derivatives are
    softmax(z)_j - [j == label]: the formula the numpy engine uses."""
    terms = []
    for row, label in zip(logits, labels):
        target = class_index(label)
        zs = [z.data for z in row]
        m = max(zs)
        exps = [math.exp(z - m) for z in zs]
        total = sum(exps)
        loss = m + math.log(total) - zs[target]
        local = tuple(e / total - (1.0 if j == target else 0.0) for j, e in enumerate(exps))
        terms.append(Value(loss, tuple(row), "ce", local))
    return mean(terms)


def l1(params, weight=1.0):
    """weight * sum |p|."""
    total = Value.sum([p.abs() for p in params])
    return total if weight == 1.0 else weight * total


def l2(params, weight=1.0):
    """weight * sum p*p."""
    total = Value.sum([p * p for p in params])
    return total if weight == 1.0 else weight * total


LOSSES = {"mse": mse, "hinge": hinge, "bce": bce_with_logits, "ce": cross_entropy}
