"""Loading a domain folder: τ-bench's layout, or a plain one, into a `PolicyDomain`.

τ-bench layout (as `tau_bench/envs/<domain>/` in sierra-research/tau-bench):

    data/__init__.py     `load_data()` returning the tables (or a module-level `data` dict), or data/*.json
    tools/__init__.py    `ALL_TOOLS = [...]`: classes with static `invoke(data, **kwargs)` and `get_info()`
    wiki.md              the policy (or wiki.py with `WIKI`)
    tasks_<split>.py     lists of `Task(user_id=..., instruction=..., actions=[Action(name=..., kwargs=...)],
                         outputs=[...])` (or dicts with the same fields; "arguments" is read as "kwargs");
                         tasks.py is read only when there is no tasks_*.py

Plain layout:

    db.json              {table: records} (or data/*.json, one table per file)
    tools.py             public functions `fn(data, arg: type, ...) -> str` (schema from the type hints and
                         docstring), or an `ALL_TOOLS` list of τ-bench-style classes
    policy.md            the policy
    tasks.jsonl          one task per line: {"id"?, "user_id"?, "instruction", "actions": [{"name",
                         "kwargs"}], "outputs"?, "split"?, "goal"?} (tasks_<split>.jsonl too)

Tool kinds: a `KIND` (or `kind`) attribute on the class or function ("read", "write" or "terminate"), else
the tools module's `READ_TOOLS` / `WRITE_TOOLS` / `TERMINATE_TOOLS` name lists, else
`transfer_to_human_agents` is terminate, names starting with get_/find_/list_/search_/calculate/think are
read, and every other tool is a write.

τ-bench's modules import `tau_bench.envs.tool.Tool` and `tau_bench.types` (Task, Action): the loader puts
stand-ins for those modules in `sys.modules` only while it imports the folder (restoring what was there
before), and imports the folder as a uniquely named package, so relative imports inside it work (and, during
the import, absolute ones through `tau_bench.envs.<folder name>`) and the folder's own `__init__.py` (which
would import τ-bench's env) is not run. A malformed file fails with a
`DomainLoadError` that names the file and the field.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import itertools
import json
import sys
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentgym.envs.policy.types import Action, PolicyDomain, PolicyTask, PolicyTool, ToolKind, UserGoal

from agentgym.tool import Tool

__all__ = ["READ_PREFIXES", "TERMINATE_NAMES", "DomainLoadError", "load_domain"]

READ_PREFIXES = ("get_", "find_", "list_", "search_", "calculate", "think")
TERMINATE_NAMES = ("transfer_to_human_agents",)
_package_ids = itertools.count()


class DomainLoadError(ValueError):
    """A domain folder is malformed; the message names the file and the field."""


# ---------------------------------------------------------------------------------------------- shims


class _Record:
    """Stand-in for τ-bench's pydantic `Task`/`Action`: keeps the keyword arguments it was built with."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)
        self.fields = fields


class _ShimTask(_Record):
    pass


class _ShimAction(_Record):
    pass


class _ShimTool:
    """Stand-in for `tau_bench.envs.tool.Tool`, the base its tool classes name. It defines nothing: a tool class
    must define its own static `invoke` and `get_info`, and `_class_tool` says which one is missing."""


def _shim_modules() -> dict[str, types.ModuleType]:
    root, envs = types.ModuleType("tau_bench"), types.ModuleType("tau_bench.envs")
    root.__path__, envs.__path__ = [], []  # packages with nothing else to find
    tool = types.ModuleType("tau_bench.envs.tool")
    tool.Tool = _ShimTool  # type: ignore[attr-defined]
    typ = types.ModuleType("tau_bench.types")
    typ.Task, typ.Action = _ShimTask, _ShimAction  # type: ignore[attr-defined]
    typ.RESPOND_ACTION_NAME, typ.RESPOND_ACTION_FIELD_NAME = "respond", "content"  # type: ignore[attr-defined]
    root.envs, root.types, envs.tool = envs, typ, tool  # type: ignore[attr-defined]
    return {m.__name__: m for m in (root, envs, tool, typ)}


def _is_tau(name: str) -> bool:
    return name == "tau_bench" or name.startswith("tau_bench.")


@contextmanager
def _tau_shims(package: str, domain: str) -> Iterator[None]:
    """Stand-ins for τ-bench's modules while the folder is imported, with `tau_bench.envs.<domain>` naming
    the folder's package (for tools that import their siblings by absolute name). Every `tau_bench` entry
    of `sys.modules` is put back as it was before (a real τ-bench, or nothing) afterwards."""
    saved = {name: module for name, module in sys.modules.items() if _is_tau(name)}
    dont_write = sys.dont_write_bytecode
    shims = _shim_modules()
    shims[f"tau_bench.envs.{domain}"] = sys.modules[package]
    sys.modules.update(shims)
    sys.dont_write_bytecode = True  # no __pycache__ folders inside the domain folder
    try:
        yield
    finally:
        sys.dont_write_bytecode = dont_write
        for name in [n for n in sys.modules if _is_tau(n)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _new_package(root: Path) -> str:
    """Register `root` as a fresh, uniquely named package (its own `__init__.py` is not run)."""
    name = f"_agentgym_policy_domain_{next(_package_ids)}"
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [str(root)]
    sys.modules[name] = importlib.util.module_from_spec(spec)
    importlib.invalidate_caches()
    return name


def _import(package: str, module: str, file: Path) -> types.ModuleType:
    try:
        return importlib.import_module(f"{package}.{module}")
    except DomainLoadError:
        raise
    except Exception as e:
        raise DomainLoadError(f"{file}: import failed: {type(e).__name__}: {e}") from e


# ---------------------------------------------------------------------------------------------- parts


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DomainLoadError(f"{path}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


def _load_data(root: Path, package: str) -> tuple[dict[str, Any], Path]:
    init = root / "data" / "__init__.py"
    if init.is_file():
        module = _import(package, "data", init)
        if callable(getattr(module, "load_data", None)):
            try:
                data = module.load_data()
            except Exception as e:
                raise DomainLoadError(f"{init}: load_data() failed: {type(e).__name__}: {e}") from e
        elif isinstance(getattr(module, "data", None), dict):
            data = module.data
        else:
            raise DomainLoadError(f"{init}: defines neither load_data() nor a module-level `data` dict")
        source = init
    elif (root / "db.json").is_file():
        source = root / "db.json"
        data = _read_json(source)
    elif sorted((root / "data").glob("*.json")):
        source = root / "data"
        data = {p.stem: _read_json(p) for p in sorted(source.glob("*.json"))}
    else:
        raise DomainLoadError(f"{root}: no database (expected db.json, data/*.json or data/__init__.py)")
    if not isinstance(data, dict):
        raise DomainLoadError(f"{source}: the database must be an object of tables, got {type(data).__name__}")
    return data, source


def _load_policy(root: Path, package: str) -> str:
    for name in ("policy.md", "wiki.md"):
        if (root / name).is_file():
            return (root / name).read_text(encoding="utf-8")
    if (root / "wiki.py").is_file():
        wiki = getattr(_import(package, "wiki", root / "wiki.py"), "WIKI", None)
        if not isinstance(wiki, str):
            raise DomainLoadError(f"{root / 'wiki.py'}: field 'WIKI' must be a string")
        return wiki
    raise DomainLoadError(f"{root}: no policy document (expected policy.md, wiki.md or wiki.py)")


def _parse_kind(raw: Any, where: str) -> ToolKind:
    try:
        return raw if isinstance(raw, ToolKind) else ToolKind(str(raw).lower())
    except ValueError:
        raise DomainLoadError(f"{where}: field 'kind' is {raw!r}; use 'read', 'write' or 'terminate'") from None


def _tool_kind(entry: Any, name: str, module: types.ModuleType, where: str) -> ToolKind:
    for attr in ("KIND", "kind"):
        raw = getattr(entry, attr, None)
        if raw is not None and not callable(raw):
            return _parse_kind(raw, where)
    for kind in ToolKind:
        names = getattr(module, f"{kind.name}_TOOLS", None)
        if names is not None and name in names:
            return kind
    if name in TERMINATE_NAMES:
        return ToolKind.TERMINATE
    return ToolKind.READ if name.startswith(READ_PREFIXES) else ToolKind.WRITE


def _class_tool(entry: Any, where: str) -> tuple[str, dict[str, Any], Any]:
    if not callable(getattr(entry, "get_info", None)):
        raise DomainLoadError(f"{where}: field 'get_info' is missing (a τ-bench tool needs a static get_info())")
    if not callable(getattr(entry, "invoke", None)):
        raise DomainLoadError(f"{where}: field 'invoke' is missing (a τ-bench tool needs a static invoke(data, ...))")
    try:
        schema = entry.get_info()
    except Exception as e:
        raise DomainLoadError(f"{where}: get_info() failed: {type(e).__name__}: {e}") from e
    function = schema.get("function") if isinstance(schema, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str) or not function["name"]:
        raise DomainLoadError(f"{where}: get_info() must return {{'type': 'function', 'function': {{'name': ..., "
                              "'description': ..., 'parameters': {...}}}}}")
    params = function.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, Mapping):
        raise DomainLoadError(f"{where}: field 'function.parameters' must be an object")
    return function["name"], dict(schema), entry.invoke


def _function_tool(fn: Any, where: str) -> tuple[str, dict[str, Any], Any]:
    if "data" not in inspect.signature(fn).parameters:
        raise DomainLoadError(f"{where}: field 'data' is missing (a tool function takes the database as `data`)")
    try:
        tool = Tool.from_function(fn, injected=("data",))
    except Exception as e:
        raise DomainLoadError(f"{where}: cannot build a schema from the signature: {type(e).__name__}: {e}") from e
    return tool.name, tool.schema, fn


def _load_tools(root: Path, package: str) -> list[PolicyTool]:
    file = root / "tools" / "__init__.py" if (root / "tools").is_dir() else root / "tools.py"
    if not file.is_file():
        raise DomainLoadError(f"{root}: no tools (expected tools/__init__.py or tools.py)")
    module = _import(package, "tools", file)
    entries = getattr(module, "ALL_TOOLS", None)
    if entries is None:
        entries = [obj for key, obj in vars(module).items()
                   if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not key.startswith("_")]
        label = "function"
        if not entries:
            raise DomainLoadError(f"{file}: field 'ALL_TOOLS' is missing and the module defines no tool functions")
    elif not isinstance(entries, (list, tuple)):
        raise DomainLoadError(f"{file}: field 'ALL_TOOLS' must be a list, got {type(entries).__name__}")
    else:
        label = "ALL_TOOLS"
    tools: list[PolicyTool] = []
    for i, entry in enumerate(entries):
        where = f"{file}: {label}[{i}] ({getattr(entry, '__name__', repr(entry))})"
        if inspect.isfunction(entry):
            name, schema, invoke = _function_tool(entry, where)
        else:
            name, schema, invoke = _class_tool(entry, where)
        if any(t.name == name for t in tools):
            raise DomainLoadError(f"{where}: field 'name': tool name {name!r} is used twice")
        tools.append(PolicyTool(name=name, invoke=invoke, schema=schema, kind=_tool_kind(entry, name, module, where)))
    return tools


# ---------------------------------------------------------------------------------------------- tasks


def _fields(record: Any, where: str) -> dict[str, Any]:
    if isinstance(record, _Record):
        return dict(record.fields)
    if isinstance(record, Mapping):
        return dict(record)
    raise DomainLoadError(f"{where}: a task must be a Task(...) or an object, got {type(record).__name__}")


def _action(raw: Any, where: str, tool_names: set[str]) -> Action:
    fields = _fields(raw, where)
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise DomainLoadError(f"{where}: field 'name' is missing or not a string")
    if name != "respond" and name not in tool_names:
        raise DomainLoadError(f"{where}: field 'name': {name!r} is not a tool of this domain")
    kwargs = fields.get("kwargs", fields.get("arguments", {}))
    if not isinstance(kwargs, Mapping):
        raise DomainLoadError(f"{where}: field 'kwargs' must be an object (dict), got {type(kwargs).__name__}")
    return Action(name=name, kwargs=dict(kwargs))


def _goal(raw: Any, where: str) -> UserGoal | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise DomainLoadError(f"{where}: field 'goal' must be an object")
    try:
        return UserGoal(**raw)
    except TypeError as e:
        raise DomainLoadError(f"{where}: field 'goal': {e}") from None


def _task(record: Any, where: str, split: str, default_id: str, tool_names: set[str]) -> PolicyTask:
    fields = _fields(record, where)
    instruction = fields.pop("instruction", None)
    if not isinstance(instruction, str) or not instruction.strip():
        raise DomainLoadError(f"{where}: field 'instruction' is missing or not a non-empty string")
    actions = fields.pop("actions", [])
    if not isinstance(actions, list):
        raise DomainLoadError(f"{where}: field 'actions' must be a list")
    outputs = fields.pop("outputs", None) or []
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise DomainLoadError(f"{where}: field 'outputs' must be a list of strings")
    user_id = fields.pop("user_id", None)
    if user_id is not None and not isinstance(user_id, str):
        raise DomainLoadError(f"{where}: field 'user_id' must be a string")
    return PolicyTask(
        id=str(fields.pop("id", default_id)),
        instruction=instruction,
        actions=[_action(a, f"{where}: actions[{j}]", tool_names) for j, a in enumerate(actions)],
        outputs=list(outputs),
        user_id=user_id,
        goal=_goal(fields.pop("goal", None), where),
        split=str(fields.pop("split", split)),
        metadata=fields,  # anything else τ-bench keeps (e.g. "annotator")
    )


def _split_of(path: Path) -> str:
    _, sep, suffix = path.stem.partition("_")
    return suffix if sep and suffix else "test"


def _task_lists(module: types.ModuleType, file: Path) -> list[tuple[str, list[Any]]]:
    found: list[tuple[str, list[Any]]] = []
    seen: set[int] = set()
    for key, value in vars(module).items():
        if key.upper().startswith("TASKS") and isinstance(value, list) and id(value) not in seen:
            seen.add(id(value))
            found.append((key, value))
    if not found:
        raise DomainLoadError(f"{file}: field 'TASKS' is missing (expected a module-level list named TASKS... "
                              "or tasks)")
    return found


def _load_tasks(root: Path, package: str, tool_names: set[str]) -> list[PolicyTask]:
    tasks: list[PolicyTask] = []
    py_files = sorted(root.glob("tasks_*.py")) or ([root / "tasks.py"] if (root / "tasks.py").is_file() else [])
    for file in py_files:
        split = _split_of(file)
        module = _import(package, file.stem, file)
        for key, records in _task_lists(module, file):
            for i, record in enumerate(records):
                tasks.append(_task(record, f"{file}: {key}[{i}]", split, f"{split}-{i}", tool_names))
    counts: dict[str, int] = {}  # default ids count per split: "test-0", "train-0", ...
    for file in sorted(root.glob("tasks*.jsonl")):
        for lineno, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DomainLoadError(f"{file}: line {lineno}: invalid JSON: {e.msg} at column {e.colno}") from None
            split = str(record.get("split", _split_of(file))) if isinstance(record, dict) else _split_of(file)
            index = counts[split] = counts.get(split, -1) + 1
            tasks.append(_task(record, f"{file}: line {lineno}", split, f"{split}-{index}", tool_names))
    if not tasks:
        raise DomainLoadError(f"{root}: no tasks (expected tasks_<split>.py, tasks.py or tasks.jsonl)")
    seen: set[str] = set()
    for task in tasks:
        if task.id in seen:
            raise DomainLoadError(f"{root}: field 'id': task id {task.id!r} is used twice")
        seen.add(task.id)
    return tasks


# ---------------------------------------------------------------------------------------------- entry point


def load_domain(path: str | Path, *, name: str | None = None) -> PolicyDomain:
    """Load a domain folder (τ-bench's layout or the plain one; see the module docstring).

    Works without the `tau_bench` package. Raises `DomainLoadError` naming the file and field at fault.
    """
    root = Path(path).resolve()
    if not root.is_dir():
        raise DomainLoadError(f"{root}: not a directory")
    package = _new_package(root)
    with _tau_shims(package, root.name):
        tools = _load_tools(root, package)
        data, source = _load_data(root, package)
        policy = _load_policy(root, package)
        tasks = _load_tasks(root, package, {t.name for t in tools})
    layout = "tau" if (root / "tools").is_dir() else "plain"
    return PolicyDomain(name=name or root.name, data=data, tools=tools, policy=policy, tasks=tasks,
                        metadata={"path": str(root), "layout": layout, "data_source": str(source)})
