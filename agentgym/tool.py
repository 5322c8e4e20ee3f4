"""Tools built from plain Python functions.

`Tool.from_function(fn)` (or the `@tool` decorator) reads the signature and docstring of a sync or async
function and produces an OpenAI function schema. Parameters that carry environment state are marked as
injected (`Annotated[T, Injected]` or `injected=("state",)`): they are filled in by the environment at call
time and never appear in the schema the model sees.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

import docstring_parser
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model


class _InjectedMarker:
    """Marks a parameter as filled by the environment, hidden from the model."""

    def __repr__(self) -> str:
        return "Injected"


Injected = _InjectedMarker()


class ToolArgumentError(ValueError):
    """The arguments of a call do not match the tool's schema."""


def _is_injected(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and any(a is Injected for a in get_args(annotation)[1:])


def _strip_titles(schema: Any) -> Any:
    """Pydantic adds a `title` to every node; models do not need them and they cost prompt tokens."""
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def format_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e.get("loc", ())) or "arguments"
        kind = e.get("type", "")
        if kind == "missing":
            parts.append(f"missing required argument '{loc}'")
        elif kind == "extra_forbidden":
            parts.append(f"unexpected argument '{loc}'")
        else:
            parts.append(f"argument '{loc}': {e.get('msg', 'invalid')}")
    return "; ".join(parts)


@dataclass(eq=False)
class Tool:
    """A callable the agent may invoke, with its JSON schema.

    Attributes:
        name: the function name the model calls.
        description: shown to the model.
        parameters: JSON schema of the visible arguments.
        fn: the implementation (sync or async).
        timeout: seconds before a call is cancelled (None: no limit).
        concurrent: whether calls of this tool may run at the same time as other calls of the same turn.
        offload: run a sync function in a worker thread (True) or inline on the event loop (False; for
            cheap pure functions where a thread hop would dominate the cost).
        injected: names of parameters filled by the environment.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    timeout: float | None = 30.0
    concurrent: bool = True
    offload: bool = True
    injected: tuple[str, ...] = ()
    args_model: type[BaseModel] | None = field(default=None, repr=False)
    is_async: bool = field(default=False, repr=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = 30.0,
        concurrent: bool = True,
        offload: bool = True,
        injected: tuple[str, ...] | list[str] = (),
    ) -> Tool:
        """Build a tool from a function's type hints and docstring (Google, NumPy or reST style)."""
        sig = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # unresolvable forward refs: fall back to raw annotations
            hints = {k: p.annotation for k, p in sig.parameters.items()}
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        param_docs = {p.arg_name: (p.description or "") for p in doc.params}
        hidden = set(injected)
        fields: dict[str, Any] = {}
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, Any)
            if annotation is inspect.Parameter.empty:
                annotation = Any
            if pname in hidden or _is_injected(annotation):
                hidden.add(pname)
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, Field(default, description=param_docs.get(pname) or None))
        model = create_model(
            f"{fn.__name__}_arguments", __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True), **fields
        )
        schema = _strip_titles(model.model_json_schema())
        schema.setdefault("properties", {})
        schema.setdefault("required", [])
        desc = description
        if desc is None:
            desc = "\n\n".join(x for x in (doc.short_description, doc.long_description) if x) or fn.__name__
        return cls(
            name=name or fn.__name__,
            description=desc,
            parameters=schema,
            fn=fn,
            timeout=timeout,
            concurrent=concurrent,
            offload=offload,
            injected=tuple(sorted(hidden)),
            args_model=model,
            is_async=inspect.iscoroutinefunction(fn),
        )

    @property
    def schema(self) -> dict[str, Any]:
        """The OpenAI `tools=[...]` entry for this tool."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce arguments; raises `ToolArgumentError` with a readable message."""
        if not isinstance(arguments, dict):
            raise ToolArgumentError(f"arguments must be a JSON object, got {type(arguments).__name__}")
        if self.args_model is None:
            return arguments
        try:
            model = self.args_model.model_validate(arguments)
        except ValidationError as e:
            raise ToolArgumentError(format_validation_error(e)) from None
        return {k: getattr(model, k) for k in type(model).model_fields}

    async def acall(self, arguments: dict[str, Any], injections: dict[str, Any] | None = None) -> Any:
        """Validate `arguments`, add injected values, and run the function (no timeout here)."""
        kwargs = self.validate(arguments)
        for pname in self.injected:
            if injections is None or pname not in injections:
                raise RuntimeError(f"tool {self.name!r} needs injected argument {pname!r}, which the env did not provide")
            kwargs[pname] = injections[pname]
        if self.is_async:
            return await self.fn(**kwargs)
        if self.offload:
            return await asyncio.to_thread(self.fn, **kwargs)
        return self.fn(**kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = 30.0,
    concurrent: bool = True,
    offload: bool = True,
    injected: tuple[str, ...] | list[str] = (),
) -> Any:
    """Decorator form of `Tool.from_function`; usable bare (`@tool`) or with options (`@tool(timeout=5)`)."""

    def wrap(f: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            f, name=name, description=description, timeout=timeout, concurrent=concurrent, offload=offload,
            injected=injected,
        )

    return wrap(fn) if fn is not None else wrap


def stringify_result(value: Any) -> str:
    """Turn a tool's return value into the text the model sees."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
