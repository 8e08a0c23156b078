"""A scalar reverse-mode autograd engine, after Karpathy's micrograd.

Every operation builds its output as in the lecture, `Value(data, (self, other), "*")`,
plus one more argument: the local derivative of the output with respect to each
child, `Value(data, children, op, local)`. backward()
then applies the chain rule: child.grad += local * out.grad. Storing numbers
instead of a `_backward` closure means a graph has no reference cycles, so a
dropped graph is freed at once by reference counting (the original engine's
closures point back at their own output, leaving the cyclic garbage collector
to clean up tens of thousands of nodes per training step).

The same property lets a training loop switch Python's cycle collector off while it
builds and backpropagates a graph (`cycle_collector_paused`): the collector would
find nothing to free, but while a graph is alive it walks its nodes again and again
as new ones are made, a quarter of a training step of a small MLP.

Numbers follow float64 PyTorch: overflow gives inf, 0/0 and log(-1) give nan,
never a Python exception or a complex number.
"""
import gc
import math
from itertools import compress
from math import isfinite
from operator import mul

inf, nan = math.inf, math.nan


class Value:
    __slots__ = ("data", "grad", "label", "_prev", "_op", "_local")

    def __init__(self, data, children=(), op="", local=(), *, label=""):
        self.data = float(data)
        self.grad = 0.0
        self.label = label       # a name to draw; keyword-only, so ops read Value(out, (self, other), "*", ...)
        self._prev = children    # the Values this one was computed from
        self._op = op            # the op's symbol, drawn by the graph page
        self._local = local      # d(self)/d(child) for each child, same order

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{', label=' + repr(self.label) if self.label else ''})"

    # ---- binary operations: forward value and local derivatives side by side
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __sub__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        a, b = self.data, other.data
        return Value(_div(a, b), (self, other), "/", (_div(1.0, b), -_div(a, b * b)))

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):  # a ** b with both a function of the inputs
            b = other.data
            out = _pow(a, b)
            return Value(out, (self, other), "**",
                         (_pow_base_grad(a, b), 0.0 if a == 0 and b >= 0 else out * _log(a)))
        other = float(other)
        return Value(_pow(a, other), (self,), f"**{other:g}", (_pow_base_grad(a, other),))

    def __neg__(self):
        return Value(-self.data, (self,), "neg", (-1.0,))

    def __radd__(self, other): return Value(other) + self
    def __rsub__(self, other): return Value(other) - self
    def __rmul__(self, other): return Value(other) * self
    def __rtruediv__(self, other): return Value(other) / self
    def __rpow__(self, other): return Value(other) ** self

    # ---- functions
    def exp(self):
        out = _exp(self.data)
        return Value(out, (self,), "exp", (out,))

    def log(self):
        return Value(_log(self.data), (self,), "log", (_div(1.0, self.data),))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), "tanh", (1.0 - t * t,))

    def sigmoid(self):
        s = sigmoid(self.data)
        return Value(s, (self,), "sigmoid", ((1.0 - s) * s,))

    def relu(self):
        x = self.data  # nan passes through, as in PyTorch
        return Value(x if x > 0 or x != x else 0.0, (self,), "relu", (0.0,) if x <= 0 else (1.0,))

    def abs(self):
        x = self.data
        return Value(abs(x), (self,), "abs", (1.0 if x > 0 else -1.0 if x < 0 else 0.0,))

    # ---- fused n-ary ops: one node instead of many, same summation order and numbers
    @staticmethod
    def sum(values, start=0.0):
        """start + v0 + v1 + ... as one node (Python's sum() would make n nodes)."""
        total = start
        for v in values:
            total += v.data
        return Value(total, tuple(values), "sum", (1.0,) * len(values))

    @staticmethod
    def dot(ws, xs, bias):
        """bias + w0*x0 + w1*x1 + ...: a neuron's weighted sum as one node.

        `xs` may be Values or plain numbers (the network's inputs). The children are the
        weights, the inputs that are Values, then the bias; each one's local derivative
        is the number it is multiplied by (the input, the weight, 1 for the bias)."""
        return Value.dots([ws], xs, [bias])[0]

    @staticmethod
    def dots(weight_rows, xs, biases, weight_numbers=None):
        """[Value.dot(ws, xs, b) for ws, b in zip(weight_rows, biases)]: a layer's weighted sums,
        reading the inputs once for all its neurons. weight_numbers: each row's weights as floats,
        when the caller has read them already (a layer applied to a batch reads them once)."""
        is_value = [isinstance(x, Value) for x in xs]
        all_values = all(is_value)  # inside a network; its first layer reads plain numbers
        inputs = xs if all_values else list(compress(xs, is_value))
        xdata = [x.data if v else float(x) for x, v in zip(xs, is_value)]
        if weight_numbers is None:
            weight_numbers = ([w.data for w in ws] for ws in weight_rows)
        out = []
        for ws, wdata, bias in zip(weight_rows, weight_numbers, biases):
            total = sum(map(mul, wdata, xdata), bias.data)  # bias + w0*x0 + w1*x1 + ..., left to right
            if all_values:
                input_local = wdata
            else:  # the weights of the inputs that are Values (none in a network's first layer)
                input_local = compress(wdata, is_value) if inputs else ()
            out.append(Value(total, (*ws, *inputs, bias), "wx+b", (*xdata, *input_local, 1.0)))
        return out

    # ---- backpropagation
    def topological_order(self):
        """Every node of the graph (leaves too), each after all of its children."""
        return topological_order(self)

    def backward(self):
        """Fill in d(self)/d(node) for every node of the graph.

        Leaves (inputs and parameters) accumulate: call backward twice without
        zeroing and their grads double, as in PyTorch with retain_graph=True.
        Inner nodes are reset each pass so they hold this pass's gradient only.
        A node whose gradient is 0 is skipped when its local derivatives are finite:
        it would add 0 to every child (with ReLUs and a hinge loss, most nodes).
        """
        order = topological_order(self, leaves=False)  # leaves only receive
        for node in order:
            if node._prev:  # (self may be a leaf)
                node.grad = 0.0
        self.grad += 1.0
        for node in reversed(order):
            g = node.grad
            if g == 0.0 and isfinite(sum(node._local)):
                continue  # adds 0 to every child (0 * inf or nan would add nan, as in PyTorch)
            for child, local in zip(node._prev, node._local):
                child.grad += local * g


def topological_order(root, leaves=True):
    """Every node of root's graph, each after all of its children; leaves=False leaves out the
    nodes no op made (inputs and parameters) other than root. Works for Values and Tensors alike.

    A depth-first search without recursion (no limit on deep graphs): each stack entry is
    a node and an iterator over its children, last child first (the order that fixes in
    which order backward() sums a node's gradient). A graph has no cycles, so a child
    already seen is already in the order: a node whose children are all seen, which
    set.issuperset checks in one call, goes straight into the order. In a layered
    network that is most nodes (every weight, and every neuron after the first that reads
    the same layer), so most edges are checked without a Python-level loop. So does a
    node with one child whose own children are all seen (the activation of a neuron).
    """
    order, seen = [], {root}
    stack = [(root, reversed(root._prev))]
    while stack:
        node, children = stack[-1]
        for child in children:
            if child not in seen:
                seen.add(child)
                kids = child._prev
                if not seen.issuperset(kids):
                    only = kids[0]
                    if len(kids) > 1 or not seen.issuperset(only._prev):
                        stack.append((child, reversed(kids)))  # its children first
                        break
                    seen.add(only)  # one child made of seen nodes (an activation of a weighted sum): it goes first
                    if leaves or only._prev:
                        order.append(only)
                if leaves or kids:
                    order.append(child)
        else:  # all children of node are in the order
            stack.pop()
            order.append(node)
    return order


class cycle_collector_paused:
    """`with cycle_collector_paused():` runs a block with Python's cycle collector off, then restores it.

    For a training step: its graph has no reference cycles, so reference counting frees it
    and the collector has nothing to do. Drop the graph inside the block (return from a
    function, or del the loss): a graph still alive when the collector resumes is walked once more.
    (A class, not @contextmanager: entering it costs a tenth as much, which shows on a numpy step.)
    """
    __slots__ = ("was_enabled",)

    def __enter__(self):
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info):
        if self.was_enabled:
            gc.enable()


# ---- float64 semantics like PyTorch, where Python's float ops would raise
def _div(a, b):
    try:
        return a / b
    except ZeroDivisionError:
        return nan if a == 0 or a != a else math.copysign(inf, a) * math.copysign(1.0, b)


def _pow(a, b):
    try:
        out = a ** b
    except ZeroDivisionError:  # 0 ** negative
        odd = b == int(b) and int(b) % 2 == 1
        return math.copysign(inf, a) if odd else inf
    except OverflowError:
        odd = b == int(b) and int(b) % 2 == 1
        return -inf if a < 0 and odd else inf
    return nan if isinstance(out, complex) else out


def _pow_base_grad(a, b):
    """d(a**b)/da = b * a**(b-1), and 0 when b == 0 (as PyTorch)."""
    return 0.0 if b == 0 else b * _pow(a, b - 1.0)


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def _log(x):
    if x > 0:
        return math.log(x)
    return -inf if x == 0 else nan


def sigmoid(x):
    """Logistic function, stable on both sides."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
