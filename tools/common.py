"""Small tools shared by many environments: a safe calculator and the `answer` tool."""

from __future__ import annotations

import ast
import math
import operator
from typing import Annotated, Any

from agentgym.state import EpisodeState
from agentgym.tool import Injected, Tool

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_MAX_EXPR_CHARS = 500
_MAX_MAGNITUDE = 1e100


def _eval_node(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _eval_node(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval_node(node.left), _eval_node(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 1000 or (abs(left) > 1 and abs(right) > 300)):
            raise ValueError("exponent too large")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, complex) or abs(value) > _MAX_MAGNITUDE:
            raise ValueError("result out of range")
        return value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval_node(node.operand))
    raise ValueError(f"unsupported syntax: {type(node).__name__}")


def format_number(value: float | int) -> str:
    """Integers without a decimal point; other floats with up to 10 significant decimals."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / // % ** and parentheses.

    Args:
        expression: the expression to evaluate, e.g. "(12 + 7) * 3".
    """
    if len(expression) > _MAX_EXPR_CHARS:
        raise ValueError(f"expression longer than {_MAX_EXPR_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"cannot parse {expression!r} as arithmetic") from None
    try:
        return format_number(_eval_node(tree))
    except ZeroDivisionError:
        raise ValueError("division by zero") from None


def answer(answer: str, state: Annotated[EpisodeState, Injected]) -> str:
    """Submit your final answer. This ends the episode.

    Args:
        answer: the final answer.
    """
    state.submit(answer)
    return "Answer submitted."


def calculator_tool(**options: Any) -> Tool:
    """The `calculator` tool (inline: pure and microseconds long, so no worker thread)."""
    return Tool.from_function(calculate, name="calculator", offload=False, **options)


def answer_tool(**options: Any) -> Tool:
    """The `answer` tool: records the answer in the episode state and ends the episode."""
    return Tool.from_function(answer, name="answer", offload=False, **options)
