"""Argo's successCondition / failureCondition (expr-lang expressions) for the demo's analysis controller.

Argo compiles them with github.com/expr-lang/expr over an environment of `result` and a few helpers
(utils/evaluate/evaluate.go). Here an expression is translated token by token into the Python expression
language of `simpleeval` (no Python eval): `||` `&&` `!` become `or` `and` `not`, `true`/`false`/`nil` their
Python values, and the predicate builtins `all(xs, {# < 0.5})`, `any`, `none`, `one`, `filter`, `map`, `count`
become comprehensions over `#`. What cannot be translated (the ternary `?:`, `??`, pipes) raises `ExprError`.
"""

from __future__ import annotations

import math
import re
import statistics

from simpleeval import EvalWithCompoundTypes

__all__ = ["ExprError", "eval_condition", "evaluate_result"]


class ExprError(Exception):
    """An expression that does not compile or run, with expr-lang's kind of message."""


_TOK = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.\d*|\.\d+|\d[\d_]*)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>\|\||&&|==|!=|<=|>=|\*\*|\?\?|\.\.|[-+*/%^<>!()\[\]{},.:?#|])
  | (?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)
""", re.X)

PREDICATES = ("all", "any", "none", "one", "filter", "map", "count")
IT = "it_"  # what `#` becomes inside a predicate


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(expr):
        m = _TOK.match(expr, i)
        if not m:
            raise ExprError(f"unexpected token {expr[i]!r} (1:{i + 1})")
        i = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def _split_args(toks: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    args, cur, depth = [], [], 0
    for t in toks:
        if t[1] in ("(", "[", "{"):
            depth += 1
        elif t[1] in (")", "]", "}"):
            depth -= 1
        if t[1] == "," and depth == 0:
            args.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        args.append(cur)
    return args


def _closing(toks, i: int) -> int:
    depth = 0
    for j in range(i, len(toks)):
        if toks[j][1] in ("(", "[", "{"):
            depth += 1
        elif toks[j][1] in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                return j
    raise ExprError("unexpected end of expression: unclosed bracket")


def translate(toks: list[tuple[str, str]]) -> str:
    """Python (simpleeval) source for expr-lang tokens."""
    out: list[str] = []
    i = 0
    while i < len(toks):
        kind, v = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and v in PREDICATES and nxt == "(":
            end = _closing(toks, i + 1)
            args = _split_args(toks[i + 2:end])
            if len(args) != 2:
                raise ExprError(f"invalid number of arguments for {v} (expected 2, got {len(args)})")
            seq, pred = args
            if pred and pred[0][1] == "{" and pred[-1][1] == "}":
                pred = pred[1:-1]
            xs, p = translate(seq), translate(pred)
            out.append({
                "all": f"all_([({p}) for {IT} in ({xs})])",
                "any": f"any_([({p}) for {IT} in ({xs})])",
                "none": f"(not any_([({p}) for {IT} in ({xs})]))",
                "one": f"(len([1 for {IT} in ({xs}) if ({p})]) == 1)",
                "filter": f"[{IT} for {IT} in ({xs}) if ({p})]",
                "map": f"[({p}) for {IT} in ({xs})]",
                "count": f"len([1 for {IT} in ({xs}) if ({p})])",
            }[v])
            i = end + 1
            continue
        if v == "#":
            out.append(IT)
        elif v == "||" or (kind == "ident" and v == "or"):
            out.append(" or ")
        elif v == "&&" or (kind == "ident" and v == "and"):
            out.append(" and ")
        elif v == "!" or (kind == "ident" and v == "not"):
            out.append(" not ")
        elif kind == "ident" and v in ("true", "false", "nil"):
            out.append({"true": "True", "false": "False", "nil": "None"}[v])
        elif kind == "ident" and v == "in":
            out.append(" in ")
        elif v == "^":
            out.append("**")
        elif v in ("?", "??", "|", "..", ".") or (kind == "ident" and v in ("matches", "contains", "startsWith",
                                                                            "endsWith", "let")):
            raise ExprError(f"the demo's evaluator does not support {v!r}")
        elif kind == "num":
            out.append(v.replace("_", ""))
        elif v in ("{", "}"):
            raise ExprError(f"unexpected token Bracket({v!r})")
        else:
            out.append(v)
        i += 1
    return "".join(out)


def _is_nan(x) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        raise ExprError(f"cannot use {_type_name(x)} as argument (type float64) to call isNaN")
    return math.isnan(x)


def _is_inf(x) -> bool:
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        raise ExprError(f"cannot use {_type_name(x)} as argument (type float64) to call isInf")
    return math.isinf(x)


def _type_name(x) -> str:
    if isinstance(x, bool):
        return "bool"
    if isinstance(x, float):
        return "float64"
    if isinstance(x, int):
        return "int"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "[]float64" if all(isinstance(v, float) for v in x) else "[]interface {}"
    if x is None:
        return "<nil>"
    return type(x).__name__


def _as_float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise ExprError(f"asFloat() not supported on {_type_name(x)} {x}") from None


def _as_int(x) -> int:
    try:
        return int(float(x)) if not isinstance(x, str) else int(x)
    except (TypeError, ValueError):
        raise ExprError(f"asInt() not supported on {_type_name(x)} {x}") from None


def _bool_list(xs) -> list:
    for x in xs:
        if not isinstance(x, bool):
            raise ExprError(f"predicate should return boolean (got {_type_name(x)})")
    return xs


def eval_condition(result, condition: str) -> bool:
    """EvalCondition: the condition's value for this result; ExprError when it does not compile, run or give a bool."""
    try:
        src = translate(_tokens(condition))
    except ExprError:
        raise
    names = {"result": result}
    functions = {
        "len": len, "abs": abs, "max": max, "min": min, "sum": sum, "int": _as_int, "float": _as_float,
        "string": str, "mean": lambda xs: statistics.fmean(xs) if xs else math.nan,
        "median": lambda xs: statistics.median(xs) if xs else math.nan, "floor": math.floor, "ceil": math.ceil,
        "round": round, "isNaN": _is_nan, "isInf": _is_inf, "isNil": lambda _x: result is None,
        "default": lambda _x, d: d if result is None else result, "asInt": _as_int, "asFloat": _as_float,
        "all_": lambda xs: all(_bool_list(xs)), "any_": lambda xs: any(_bool_list(xs)),
    }
    ev = EvalWithCompoundTypes(names=names, functions=functions)
    try:
        out = ev.eval(src)
    except ExprError:
        raise
    except IndexError:
        n = len(result) if isinstance(result, list) else 0
        raise ExprError(f"runtime error: index out of range [{_first_index(condition)}] with length {n}") from None
    except TypeError as e:
        raise ExprError(f"invalid operation: {e}") from None
    except ZeroDivisionError:
        raise ExprError("runtime error: integer divide by zero") from None
    except Exception as e:  # simpleeval's NameNotDefined, FunctionNotDefined, InvalidExpression, SyntaxError
        raise ExprError(_simpleeval_message(e)) from None
    if not isinstance(out, bool):
        raise ExprError(f"expected bool, but got {_type_name(out)}")
    return out


def _first_index(condition: str) -> str:
    m = re.search(r"\[\s*(-?\d+)\s*\]", condition)
    return m.group(1) if m else "0"


def _simpleeval_message(e: Exception) -> str:
    name = type(e).__name__
    if name == "NameNotDefined":
        return f"unknown name {getattr(e, 'name', '')}"
    if name == "FunctionNotDefined":
        return f"unknown func {getattr(e, 'func_name', '')}"
    if isinstance(e, SyntaxError):
        return f"syntax error: {e.msg}"
    return str(e) or name


def _is_nil_or_empty(result) -> bool:
    return result is None or (isinstance(result, list) and not result)


def evaluate_result(result, success: str | None, failure: str | None) -> tuple[str, str | None]:
    """EvaluateResult (utils/evaluate/evaluate.go): (phase, error message or None)."""
    ok = fail = False
    if success:
        try:
            ok = eval_condition(result, success)
        except ExprError as e:
            return "Error", _format_error(e, "successCondition", success, result)
    if failure:
        try:
            fail = eval_condition(result, failure)
        except ExprError as e:
            return "Error", _format_error(e, "failureCondition", failure, result)
    if not success and not failure:
        return "Successful", None
    if success and not failure:
        fail = not ok
    elif failure and not success:
        ok = not fail
    if fail:
        return "Failed", None
    if not ok:
        return "Inconclusive", None
    return "Successful", None


def _format_error(e: ExprError, kind: str, expression: str, result) -> str:
    if _is_nil_or_empty(result):
        return (f'could not evaluate {kind} "{expression}": metric result is nil or empty: '
                "no data returned from the metric provider")
    return f'could not evaluate {kind} "{expression}": {e}'
