"""Loss functions and penalties over lists of Values (labels for classification are +-1)."""
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


def l1(params):
    return Value.sum([p.abs() for p in params])


def l2(params):
    return Value.sum([p * p for p in params])


LOSSES = {"mse": mse, "hinge": hinge, "bce": bce_with_logits}
