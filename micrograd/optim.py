"""SGD and Adam with torch.optim's update rules.

They work on any parameters with .data and .grad: floats (the scalar engine) or
numpy arrays (the numpy engine), with the same arithmetic element by element."""
import math

import numpy as np


class Optimizer:
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr
        self.vectorized = bool(self.params) and isinstance(self.params[0].data, np.ndarray)

    def zero_grad(self):
        for p in self.params:
            p.grad = 0.0


class SGD(Optimizer):
    def __init__(self, params, lr, momentum=0.0):
        super().__init__(params, lr)
        self.momentum, self.buffers = momentum, None

    def step(self):
        if not self.momentum:
            for p in self.params:
                p.data -= self.lr * p.grad
            return
        if self.buffers is None:  # torch starts the buffer at the first gradient
            self.buffers = [p.grad + 0.0 for p in self.params]  # a copy, for arrays too
        else:
            self.buffers = [self.momentum * b + p.grad for b, p in zip(self.buffers, self.params)]
        for p, b in zip(self.params, self.buffers):
            p.data -= self.lr * b


class Adam(Optimizer):
    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params, lr)
        self.betas, self.eps, self.t = betas, eps, 0
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self):
        b1, b2 = self.betas
        self.t += 1
        step_size = self.lr / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        sqrt = np.sqrt if self.vectorized else math.sqrt  # both correctly rounded: same numbers
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] += (g - self.m[i]) * (1 - b1)         # torch: exp_avg.lerp_(grad, 1 - beta1)
            self.v[i] = self.v[i] * b2 + (1 - b2) * g * g
            p.data -= step_size * self.m[i] / (sqrt(self.v[i]) / bc2_sqrt + self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
