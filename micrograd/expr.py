"""Turn a typed math expression such as `(a*b + c)*f` into a Value graph, safely.

The text is only ever given to ast.parse (never eval/exec/compile), and the
syntax tree is checked against a whitelist before anything is built:

    numbers (int/float), variable names, + - * / **, unary - and +,
    and calls exp(x) log(x) tanh(x) relu(x) sigmoid(x) abs(x).

Everything else raises ExpressionError, whose message quotes the offending
part of the text and its column. Sizes are bounded too: at most 500
characters, 200 syntax nodes, 50 levels of nesting, exponents within +-100 and
integers within 1e15, so no input can make the parser or the engine work long.

The graph has one node per operation, as in the lecture: a variable is a leaf
labelled with its name (the same leaf every time the name appears, so `a + a`
gives a.grad == 2), a number is a leaf labelled with its text, and every
intermediate node is labelled with the source text of its subexpression.
"""
import ast
import math
import re

from .engine import Value

__all__ = ["ExpressionError", "parse_expression", "expression_names", "FUNCTIONS",
           "MAX_LENGTH", "MAX_DEPTH", "MAX_NODES", "MAX_EXPONENT", "MAX_INT", "LABEL_WIDTH"]

MAX_LENGTH = 500        # characters
MAX_DEPTH = 50          # nesting levels (parentheses, and levels of the syntax tree)
MAX_NODES = 200         # syntax-tree nodes (numbers, names, operations, calls)
MAX_EXPONENT = 100      # |constant exponent|
MAX_INT = 10 ** 15      # |integer literal|
LABEL_WIDTH = 20        # intermediate nodes' labels are cut to this many characters

FUNCTIONS = {
    "exp": Value.exp, "log": Value.log, "tanh": Value.tanh,
    "relu": Value.relu, "sigmoid": Value.sigmoid, "abs": Value.abs,
}
_FUNCTION_LIST = ", ".join(sorted(FUNCTIONS))
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_OTHER_BINOPS = {ast.MatMult: "@", ast.Mod: "%", ast.FloorDiv: "//", ast.LShift: "<<",
                 ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&"}
_OTHER_UNARY = {ast.Not: "not", ast.Invert: "~"}
_FORBIDDEN = {  # node type name -> message
    "Attribute": "attribute access is not allowed", "Subscript": "indexing is not allowed",
    "Slice": "slicing is not allowed", "List": "lists are not allowed", "Tuple": "tuples are not allowed",
    "Dict": "dicts are not allowed", "Set": "sets are not allowed",
    "ListComp": "comprehensions are not allowed", "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed", "GeneratorExp": "generator expressions are not allowed",
    "Lambda": "lambda is not allowed", "IfExp": "conditional expressions are not allowed",
    "BoolOp": "`and`/`or` are not allowed", "Compare": "comparisons are not allowed",
    "Yield": "yield is not allowed", "YieldFrom": "yield is not allowed", "Await": "await is not allowed",
    "NamedExpr": "assignment (`:=`) is not allowed", "Starred": "`*` unpacking is not allowed",
    "JoinedStr": "f-strings are not allowed", "FormattedValue": "f-strings are not allowed",
}


class ExpressionError(ValueError):
    """The expression is malformed or uses something outside the whitelist.

    `column` (1-based) and `line` locate the problem when known; `segment` is
    the offending source text."""

    def __init__(self, message, *, line=None, column=None, segment=None):
        super().__init__(message)
        self.line, self.column, self.segment = line, column, segment


# ---------------------------------------------------------------- messages
def _quote(text, width=40):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _where(line, column, multiline):
    return f"line {line}, column {column}" if multiline else f"column {column}"


def _fail(text, node, what):
    """ExpressionError `what: `segment` at column N` for an AST node."""
    segment = ast.get_source_segment(text, node) or ""
    line, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
    where = _where(line, column, "\n" in text)
    return ExpressionError(f"{what}: `{_quote(segment)}` at {where}", line=line, column=column, segment=segment)


def _char_error(text, pos, message):
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return ExpressionError(f"{message} at {_where(line, column, chr(10) in text)}", line=line, column=column,
                           segment=text[pos])


# ---------------------------------------------------------------- validation
def _check_text(text):
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be text, not {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("empty expression: type something like `(a*b + c)*f`")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is too long: {len(text)} characters, the limit is {MAX_LENGTH}")
    for pos, ch in enumerate(text):
        code = ord(ch)
        if code > 126:
            raise _char_error(text, pos, f"character {ch!r} (U+{code:04X}) is not allowed; "
                                         "use plain ASCII letters, digits and + - * / ** ( )")
        if code < 32 and ch not in "\t\n\r":
            raise _char_error(text, pos, f"control character U+{code:04X} is not allowed")
    depth = 0
    for pos, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth > MAX_DEPTH:
            raise _char_error(text, pos, f"too many nested parentheses (more than {MAX_DEPTH})")


def _parse(text):
    """Check the text and its syntax tree; return the tree's body."""
    _check_text(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        line = e.lineno or 1
        lines = text.split("\n")
        column = e.offset if e.offset and e.offset > 0 else len(lines[min(line, len(lines)) - 1]) + 1
        msg = e.msg or "invalid syntax"
        if msg == "invalid syntax":
            msg = "invalid syntax (only numbers, names, + - * / ** ( ) and the functions " \
                  f"{_FUNCTION_LIST} are allowed)"
        raise ExpressionError(f"syntax error at {_where(line, column, len(lines) > 1)}: {msg}",
                              line=line, column=column) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"cannot parse the expression: {e}") from None
    _validate(text, tree.body)
    return tree.body


def _validate(text, body):
    """Walk the tree (iteratively) against the whitelist and the size limits."""
    count, stack = 0, [(body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"expression is too big: more than {MAX_NODES} numbers, names and operations")
        if depth > MAX_DEPTH:
            raise _fail(text, node, f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
        kind = type(node).__name__
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINOPS:
                sym = _OTHER_BINOPS.get(op, op.__name__)
                raise _fail(text, node, f"operator `{sym}` is not allowed (use + - * / **)")
            # a left-associative chain (a + b + c + ...) does not nest deeper
            stack.append((node.right, depth + 1))
            stack.append((node.left, depth + (not isinstance(node.left, ast.BinOp))))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                sym = _OTHER_UNARY.get(type(node.op), type(node.op).__name__)
                raise _fail(text, node, f"operator `{sym}` is not allowed (use + - * / **)")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Constant):
            _check_constant(text, node)
        elif isinstance(node, ast.Name):
            _check_name(text, node)
        elif isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name):
                raise _fail(text, node, f"only the functions {_FUNCTION_LIST} can be called, "
                                        "calling anything else is not allowed")
            if func.id not in FUNCTIONS:
                raise _fail(text, node, f"unknown function `{_quote(func.id, 30)}` (allowed: {_FUNCTION_LIST})")
            if node.keywords:
                raise _fail(text, node, f"keyword arguments are not allowed in {func.id}()")
            if len(node.args) != 1:
                raise _fail(text, node, f"{func.id}() takes exactly one argument, got {len(node.args)}")
            stack.append((node.args[0], depth + 1))
        elif kind in _FORBIDDEN:
            raise _fail(text, node, _FORBIDDEN[kind])
        else:
            raise _fail(text, node, f"`{kind}` is not allowed")


def _check_constant(text, node):
    v = node.value
    if isinstance(v, bool):
        raise _fail(text, node, "booleans are not allowed (use 1 or 0)")
    if isinstance(v, int):
        if abs(v) > MAX_INT:
            raise _fail(text, node, "number too large (integers must be within 1e15)")
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise _fail(text, node, "number out of range (it overflows a float)")
    elif isinstance(v, complex):
        raise _fail(text, node, "complex numbers are not allowed")
    elif isinstance(v, (str, bytes)):
        raise _fail(text, node, "strings are not allowed")
    else:
        raise _fail(text, node, f"`{v!r}` is not allowed (only numbers)")


def _check_name(text, node):
    name = node.id
    segment = ast.get_source_segment(text, node)
    if segment != name or not re.fullmatch(_NAME, name):
        raise _fail(text, node, "invalid variable name (use ASCII letters, digits and _)")
    if name.startswith("__"):
        raise _fail(text, node, "names starting with `__` are not allowed")
    if name in FUNCTIONS:
        raise _fail(text, node, f"`{name}` is a function: call it like {name}(x)")


# ---------------------------------------------------------------- building
def _label(text, node):
    segment = " ".join((ast.get_source_segment(text, node) or "").split())
    return segment if len(segment) <= LABEL_WIDTH else segment[:LABEL_WIDTH - 1] + "…"


def _variables(node):
    """The Name nodes of variables under `node` (not the names of called functions)."""
    funcs = {id(n.func) for n in ast.walk(node) if isinstance(n, ast.Call)}
    return [n for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in funcs]


class _Builder:
    def __init__(self, text, variables):
        self.text, self.variables, self.leaves = text, variables, {}

    def build(self, node):
        text = self.text
        if isinstance(node, ast.Constant):
            return Value(float(node.value), label=_label(text, node))
        if isinstance(node, ast.Name):
            return self.leaf(node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand)
            if isinstance(node.operand, ast.Constant):      # -3 is the number -3, not neg(3)
                return Value(-float(node.operand.value), label=_label(text, node))
            out = -self.build(node.operand)
        elif isinstance(node, ast.BinOp):
            left = self.build(node.left)
            if isinstance(node.op, ast.Pow):
                if _variables(node.right):
                    out = left ** self.build(node.right)
                else:                                       # x**2: one node with a constant exponent
                    out = left ** self.exponent(node.right)
            else:
                right = self.build(node.right)
                op = type(node.op)
                out = (left + right if op is ast.Add else left - right if op is ast.Sub
                       else left * right if op is ast.Mult else left / right)
        elif isinstance(node, ast.Call):
            out = FUNCTIONS[node.func.id](self.build(node.args[0]))
        else:  # unreachable after _validate
            raise _fail(text, node, f"`{type(node).__name__}` is not allowed")
        out.label = _label(text, node)
        return out

    def exponent(self, node):
        value = self.build(node).data
        if math.isnan(value):
            raise _fail(self.text, node, "exponent is not a number")
        if abs(value) > MAX_EXPONENT:
            shown = format(value, ".6g")
            raise _fail(self.text, node, f"huge exponent ({shown}; exponents must be within ±{MAX_EXPONENT})")
        return value

    def leaf(self, node):
        name = node.id
        if name not in self.leaves:
            if name not in self.variables:
                raise _fail(self.text, node, f"no value given for variable `{name}`")
            try:
                value = float(self.variables[name])
            except (TypeError, ValueError):
                raise ExpressionError(f"the value of `{name}` is not a number: {self.variables[name]!r}") from None
            self.leaves[name] = Value(value, label=name)
        return self.leaves[name]


# ---------------------------------------------------------------- public API
def expression_names(text):
    """The free variable names of `text`, in order of first appearance.

    Raises ExpressionError for anything parse_expression would reject, so a
    page can validate the text before creating number inputs for the names."""
    body = _parse(text)
    names = sorted(((n.lineno, n.col_offset), n.id) for n in _variables(body))
    ordered = list(dict.fromkeys(name for _, name in names))
    _Builder(text, dict.fromkeys(ordered, 1.0)).build(body)   # also checks the exponents
    return ordered


def parse_expression(text, variables):
    """Build the Value graph of `text`; returns (root, {name: leaf Value}).

    `variables` maps every free name to its number (extra names are ignored).
    The leaves dict is in order of first appearance."""
    body = _parse(text)
    builder = _Builder(text, dict(variables or {}))
    root = builder.build(body)
    if not root._prev and not root.label:
        root.label = _label(text, body)
    return root, builder.leaves
