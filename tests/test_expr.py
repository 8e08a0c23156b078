"""The safe expression parser: whitelisted forms build the right graph, the rest is refused."""
import ast
import builtins
import math
from pathlib import Path

import pytest

from micrograd import Value
from micrograd.backprop import backward_steps, finite_difference_check, grads_after
from micrograd.expr import ExpressionError, expression_names, parse_expression
from micrograd.graph import draw_dot, graph_size

EXPR_SOURCE = Path(__file__).resolve().parents[1] / "micrograd" / "expr.py"


def build(text, **variables):
    return parse_expression(text, variables)


# ---------------------------------------------------------------- valid forms vs the engine
CASES = [  # text, variables, the same computation written with the engine directly
    ("(a*b + c)*f", dict(a=2.0, b=-3.0, c=10.0, f=-2.0), lambda a, b, c, f: (a * b + c) * f),
    ("x1*w1 + x2*w2 + b", dict(x1=2.0, w1=-3.0, x2=0.0, w2=1.0, b=6.88),
     lambda x1, w1, x2, w2, b: x1 * w1 + x2 * w2 + b),
    ("tanh(x*w + b)", dict(x=0.5, w=-1.5, b=0.25), lambda x, w, b: (x * w + b).tanh()),
    ("x**2 - 3*x + 1", dict(x=1.7), lambda x: x ** 2 - Value(3.0) * x + Value(1.0)),
    ("exp(x) / (1 + exp(x))", dict(x=0.3), lambda x: x.exp() / (Value(1.0) + x.exp())),
    ("log(x) * sigmoid(y)", dict(x=2.5, y=-0.7), lambda x, y: x.log() * y.sigmoid()),
    ("relu(x) + abs(y) - relu(y)", dict(x=1.5, y=-2.0), lambda x, y: x.relu() + y.abs() - y.relu()),
    ("-x + +y - -3", dict(x=1.25, y=4.0), lambda x, y: -x + y - Value(-3.0)),
    ("x**-2 + x**0.5", dict(x=1.3), lambda x: x ** -2 + x ** 0.5),
    ("2**x * x**y", dict(x=1.1, y=0.9), lambda x, y: Value(2.0) ** x * x ** y),
    ("x / y / z", dict(x=1.0, y=2.0, z=4.0), lambda x, y, z: x / y / z),
    ("x ** (1 + 1)", dict(x=3.0), lambda x: x ** 2),
    ("1.5e-1 * x", dict(x=2.0), lambda x: Value(0.15) * x),
    ("(\n  x\n  + 1)", dict(x=2.0), lambda x: x + Value(1.0)),
]


@pytest.mark.parametrize("text,variables,direct", CASES, ids=[c[0] for c in CASES])
def test_valid_expressions_match_the_engine(text, variables, direct):
    root, leaves = parse_expression(text, variables)
    assert list(leaves) == expression_names(text)
    assert all(leaves[name].label == name and leaves[name].data == variables[name] for name in leaves)
    root.backward()
    mine = [Value(v, label=k) for k, v in variables.items()]
    ref = direct(*mine)
    ref.backward()
    assert root.data == pytest.approx(ref.data, rel=1e-12, abs=1e-15)
    for v in mine:
        assert leaves[v.label].grad == pytest.approx(v.grad, rel=1e-12, abs=1e-15), v.label


def test_same_ops_give_identical_graphs():
    root, leaves = build("(a*b + c)*f", a=2.0, b=-3.0, c=10.0, f=-2.0)
    assert graph_size(root) == (7, 3)
    assert [v._op for v in root.topological_order() if v._prev] == ["*", "+", "*"]
    root.backward()
    assert {k: v.grad for k, v in leaves.items()} == {"a": 6.0, "b": -4.0, "c": -2.0, "f": 4.0}


def test_a_plus_a_uses_one_leaf():
    root, leaves = build("a + a", a=3.0)
    a = leaves["a"]
    assert root._prev == (a, a) and root.data == 6.0
    root.backward()
    assert a.grad == 2.0
    root, leaves = build("x*x + x", x=3.0)
    root.backward()
    assert leaves["x"].grad == 7.0 and graph_size(root) == (3, 2)


def test_labels_read_like_the_lecture():
    root, leaves = build("(a*b + c)*f", a=2, b=-3, c=10, f=-2)
    labels = [v.label for v in root.topological_order()]
    assert labels == ["f", "c", "b", "a", "a*b", "a*b + c", "(a*b + c)*f"]
    root, _ = build("x * 2.50 + -3", x=1.0)
    assert {v.label for v in root.topological_order() if not v._prev} == {"x", "2.50", "-3"}
    root, _ = build("tanh(x1*w1 + x2*w2 + b)", x1=1, w1=1, x2=1, w2=1, b=1)
    assert len(root.label) == 20 and root.label.endswith("…")
    root, _ = build("x**2", x=3.0)
    assert root._op == "**2" and root.label == "x**2" and len(root._prev) == 1
    root, _ = build("x", x=3.0)
    assert root.label == "x" and root.data == 3.0
    root, _ = build("4", )
    assert root.label == "4" and root.data == 4.0


def test_expression_names():
    assert expression_names("b*a + a*exp(c) - tanh(b)") == ["b", "a", "c"]
    assert expression_names("3 + 4") == []
    assert expression_names("(\n y\n + x)") == ["y", "x"]
    assert expression_names("x_1 + _y + X2") == ["x_1", "_y", "X2"]


def test_variables():
    root, leaves = build("x + 1", x=1, unused=5.0)
    assert list(leaves) == ["x"] and root.data == 2.0
    with pytest.raises(ExpressionError, match="no value given for variable `y`: `y` at column 5"):
        build("x + y", x=1.0)
    with pytest.raises(ExpressionError, match="not a number"):
        build("x + 1", x="one")


def test_float_semantics_follow_the_engine():
    root, _ = build("1/x + log(y)", x=0.0, y=-1.0)
    assert math.isnan(root.data)
    root, _ = build("exp(x)", x=1000.0)
    assert root.data == math.inf


def test_drawable_and_steppable():
    root, leaves = build("(a*b + c)*f", a=2.0, b=-3.0, c=10.0, f=-2.0)
    dot = draw_dot(root)
    assert "{ a*b + c | data 4.0000 | grad 0.0000 }" in dot.source
    steps = backward_steps(root)
    order = root.topological_order()
    inner = root._prev[0]                                   # a*b + c: named by its place, not its text
    assert steps[1].rules[0] == f"#{order.index(inner)}.grad += f.data · #{order.index(root)}.grad"
    assert draw_dot(root, number_unlabelled=True).source.count(f"{{ #{order.index(inner)} = a*b + c |") == 1
    assert grads_after(root, len(steps))[leaves["a"]] == 6.0


@pytest.mark.parametrize("text,variables", [
    ("(a*b + c)*f", dict(a=2.0, b=-3.0, c=10.0, f=-2.0)),
    ("tanh(x1*w1 + x2*w2 + b)", dict(x1=2.0, x2=0.0, w1=-3.0, w2=1.0, b=6.8813735870195432)),
    ("exp(x) / (1 + exp(x)) + log(y)**2 - sigmoid(x*y)", dict(x=0.4, y=2.5)),
    ("x**y + y**-3 + abs(x - y) + relu(y)", dict(x=1.3, y=0.7)),
    ("a + a", dict(a=3.0)),
])
def test_finite_differences_agree(text, variables):
    rows = finite_difference_check(lambda v: parse_expression(text, v), variables)
    assert [r.name for r in rows] == list(variables)
    assert all(r.ok for r in rows), rows


# ---------------------------------------------------------------- hostile and malformed input
HOSTILE = [  # text, a part the message must contain
    ("__import__('os')", "unknown function `__import__`"),
    ("__import__('os').system('ls')", "only the functions abs, exp, log, relu, sigmoid, tanh can be called"),
    ("(x).real", "attribute access is not allowed: `(x).real`"),
    ("x.__class__", "attribute access is not allowed: `x.__class__` at column 1"),
    ("1 + x.y", "attribute access is not allowed: `x.y` at column 5"),
    ("().__class__.__bases__[0]", "indexing is not allowed"),
    ("lambda: 1", "lambda is not allowed: `lambda: 1`"),
    ("open('f')", "unknown function `open`"),
    ("print(x)", "unknown function `print`"),
    ("[1,2]", "lists are not allowed: `[1,2]`"),
    ("(1, 2)", "tuples are not allowed"),
    ("{'a': 1}", "dicts are not allowed"),
    ("{1}", "sets are not allowed"),
    ("[x for x in y]", "comprehensions are not allowed"),
    ("a if b else c", "conditional expressions are not allowed: `a if b else c`"),
    ("x[0]", "indexing is not allowed: `x[0]`"),
    ("'str'", "strings are not allowed: `'str'`"),
    ("b'x' + 1", "strings are not allowed: `b'x'`"),
    ("f'{x}'", "f-strings are not allowed"),
    ("2**1000000", "huge exponent (1e+06; exponents must be within ±100): `1000000` at column 4"),
    ("9**9**9", "huge exponent (3.8742e+08; exponents must be within ±100): `9**9` at column 4"),
    ("x**101", "huge exponent"),
    ("x**-(200)", "huge exponent"),
    ("x**(1/0)", "huge exponent (inf"),
    ("x**(0/0)", "exponent is not a number: `0/0`"),
    ("(" * 1000 + "x" + ")" * 1000, "expression is too long: 2001 characters, the limit is 500"),
    ("(" * 60 + "x" + ")" * 60, "too many nested parentheses (more than 50) at column 51"),
    ("exp(" * 51 + "x" + ")" * 51, "too many nested parentheses"),
    ("-" * 60 + "x", "nested too deeply (more than 50 levels)"),
    ("2**" * 60 + "x", "nested too deeply"),
    ("+".join(["x"] * 120), "too big: more than 200"),
    ("a and b", "`and`/`or` are not allowed: `a and b`"),
    ("a or b", "`and`/`or` are not allowed"),
    ("not a", "operator `not` is not allowed"),
    ("a < b", "comparisons are not allowed: `a < b`"),
    ("a == b", "comparisons are not allowed"),
    ("f(x)", "unknown function `f` (allowed: abs, exp, log, relu, sigmoid, tanh): `f(x)` at column 1"),
    ("exp(x, y)", "exp() takes exactly one argument, got 2: `exp(x, y)`"),
    ("exp()", "exp() takes exactly one argument, got 0"),
    ("exp(x=1)", "keyword arguments are not allowed in exp()"),
    ("exp(*x)", "`*` unpacking is not allowed: `*x` at column 5"),
    ("exp(x)(1)", "only the functions abs, exp, log, relu, sigmoid, tanh can be called"),
    ("x.exp()", "only the functions abs, exp, log, relu, sigmoid, tanh can be called"),
    ("exp", "`exp` is a function: call it like exp(x)"),
    ("exp + 1", "`exp` is a function"),
    ("(yield)", "yield is not allowed: `yield` at column 2"),
    ("await x", "await is not allowed"),
    ("(x := 1)", "assignment (`:=`) is not allowed"),
    ("", "empty expression"),
    ("   \n ", "empty expression"),
    ("1e400", "number out of range (it overflows a float): `1e400`"),
    ("-1e400 + x", "number out of range"),
    ("10000000000000000", "number too large (integers must be within 1e15)"),
    ("9" * 400, "number too large"),
    ("1j", "complex numbers are not allowed: `1j`"),
    ("True + 1", "booleans are not allowed"),
    ("None", "`None` is not allowed"),
    ("...", "`Ellipsis` is not allowed"),
    ("x @ y", "operator `@` is not allowed (use + - * / **): `x @ y`"),
    ("x // 2", "operator `//` is not allowed"),
    ("x % 2", "operator `%` is not allowed"),
    ("x ^ 2", "operator `^` is not allowed"),
    ("~x", "operator `~` is not allowed"),
    ("a; b", "syntax error at column 2: invalid syntax"),
    ("x +", "syntax error at column 4"),
    ("x = 1", "syntax error"),
    ("1 +\n(x.y)", "syntax error at line 1, column 4"),
    ("(x +\n y.z)", "attribute access is not allowed: `y.z` at line 2, column 2"),
    ("__x + 1", "names starting with `__` are not allowed: `__x`"),
    ("ｘ + 1", "character 'ｘ' (U+FF58) is not allowed"),                 # fullwidth x (NFKC -> x)
    ("x \u2212 y", "(U+2212) is not allowed; use plain ASCII"),            # unicode minus
    ("\u212fxp(x)", "(U+212F) is not allowed"),                            # script e (NFKC -> exp)
    ("exp\u200b(x)", "(U+200B) is not allowed; use plain ASCII letters, digits and + - * / ** ( ) at column 4"),
    ("x\u00a0+ 1", "(U+00A0) is not allowed"),                             # no-break space
    ("\u0445 + 1", "(U+0445) is not allowed"),                             # cyrillic kha
    ("x\x00", "control character U+0000 is not allowed at column 2"),
    ("x\x1b[2J", "control character U+001B"),
]


@pytest.mark.parametrize("text,message", HOSTILE, ids=[repr(t[:25]) for t, _ in HOSTILE])
def test_hostile_input_is_rejected(text, message):
    variables = dict.fromkeys("abcxyz", 1.0)
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, variables)
    assert isinstance(info.value, ValueError)
    assert message in str(info.value)
    with pytest.raises(ExpressionError) as again:
        expression_names(text)
    assert str(again.value) == str(info.value)


def test_error_locations():
    with pytest.raises(ExpressionError) as info:
        expression_names("a + b.c")
    assert (info.value.line, info.value.column, info.value.segment) == (1, 5, "b.c")
    with pytest.raises(ExpressionError) as info:
        expression_names("a ; b")
    assert info.value.column == 3


def test_length_limit_is_inclusive():
    assert expression_names("x" + " " * 499) == ["x"]
    with pytest.raises(ExpressionError, match="too long: 501 characters"):
        expression_names("x" + " " * 500)
    with pytest.raises(ExpressionError, match="must be text"):
        expression_names(None)


def test_boundaries_are_accepted():
    assert build("x**100", x=1.0)[0].data == 1.0
    assert build("x**-100", x=1.0)[0].data == 1.0
    assert build("1000000000000000 * x", x=1.0)[0].data == 1e15
    assert build("(" * 50 + "x" + ")" * 50, x=2.0)[0].data == 2.0
    assert build("-" * 49 + "x", x=2.0)[0].data == -2.0
    long_sum = "+".join(["x"] * 100)         # 199 nodes, a flat chain: fine
    root, leaves = build(long_sum, x=1.0)
    root.backward()
    assert root.data == 100.0 and leaves["x"].grad == 100.0


def test_never_evaluates_user_text(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("eval/exec must not be called")
    monkeypatch.setattr(builtins, "eval", boom)
    monkeypatch.setattr(builtins, "exec", boom)
    assert build("(a*b + c)*f", a=2.0, b=-3.0, c=10.0, f=-2.0)[0].data == -8.0
    # and the module's source calls no eval/exec/compile
    tree = ast.parse(EXPR_SOURCE.read_text())
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    called |= {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert not called & {"eval", "exec", "compile", "__import__", "literal_eval"}
