"""Checking a tool call's arguments against the tool's JSON schema, with messages an agent can act on.

`jsonschema` does the checking when it is installed; otherwise a small checker covers what τ-bench-style
schemas use (required names, unexpected names, the JSON types, enums, nested objects and arrays). Either way
an argument name the schema does not list is refused (the tool's `invoke` could not take it), unless the
schema says `"additionalProperties": true`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["argument_errors"]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


def argument_errors(parameters: Mapping[str, Any], arguments: Mapping[str, Any]) -> list[str]:
    """Problems with `arguments` for a tool whose parameters schema is `parameters` (empty when fine)."""
    errors: list[str] = []
    properties = parameters.get("properties") or {}
    if parameters.get("additionalProperties") is not True:
        errors += [f"unexpected argument '{name}'" for name in arguments if name not in properties]
    try:
        import jsonschema
    except ImportError:
        errors += _check(parameters, arguments, "")
    else:
        validator_cls = jsonschema.validators.validator_for(parameters, default=jsonschema.Draft202012Validator)
        validator = validator_cls(dict(parameters))
        for err in sorted(validator.iter_errors(dict(arguments)), key=lambda e: list(e.absolute_path)):
            if err.validator == "additionalProperties":
                continue  # already reported by name
            errors.append(_describe(err))
    return errors


def _describe(err: Any) -> str:
    where = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        name = f"{where}.{missing}" if where else missing
        return f"missing required argument '{name}'"
    return f"argument '{where}': {err.message}" if where else err.message


def _type_ok(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else list(expected)
    for name in names:
        kinds = _TYPES.get(name)
        if kinds is None:
            return True  # a type this checker does not know: accept
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if name == "integer" and isinstance(value, float) and value.is_integer():
            return True
        if isinstance(value, kinds):
            return True
    return False


def _check(schema: Mapping[str, Any], value: Any, where: str) -> list[str]:
    """The fallback checker: type, enum, required, nested properties and array items."""
    label = f"argument '{where}'" if where else "arguments"
    expected = schema.get("type")
    if expected is not None and not _type_ok(value, expected):
        return [f"{label}: {value!r} is not of type {expected!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{label}: {value!r} is not one of {schema['enum']!r}"]
    errors: list[str] = []
    if isinstance(value, dict):
        for name in schema.get("required") or []:
            if name not in value:
                errors.append(f"missing required argument '{f'{where}.{name}' if where else name}'")
        for name, sub in (schema.get("properties") or {}).items():
            if name in value and isinstance(sub, Mapping):
                errors += _check(sub, value[name], f"{where}.{name}" if where else name)
    if isinstance(value, (list, tuple)) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            errors += _check(schema["items"], item, f"{where}.{i}" if where else str(i))
    return errors
