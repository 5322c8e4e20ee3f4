"""Loading domain folders (τ-bench's layout and the plain one) and playing their gold actions."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
from agentgym.envs.policy import (
    DomainLoadError,
    PolicyEnv,
    PolicyTask,
    SimulatedUser,
    ToolKind,
    database_hash,
    load_domain,
)
from gymnasium.utils.env_checker import check_env

from agentgym.agents import FunctionAgent
from agentgym.episode import run_episode

DATA = Path(__file__).resolve().parents[1] / "data" / "policy"
LAYOUTS = ["tau_layout", "plain_layout"]
TOOL_KINDS = {"find_customer_by_email": ToolKind.READ, "get_bike": ToolKind.READ, "get_customer": ToolKind.READ,
              "rent_bike": ToolKind.WRITE, "return_bike": ToolKind.WRITE,
              "transfer_to_human_agents": ToolKind.TERMINATE}
TASK_IDS = ["test-0", "test-1", "test-2", "test-3", "test-4", "train-0"]


class PoliteUser(SimulatedUser):
    """Says its instruction, then "yes" to everything, and stops when the agent says goodbye."""

    async def start(self, task: PolicyTask) -> str:
        return task.instruction

    async def reply(self, agent_text: str) -> str:
        return "###STOP###" if "goodbye" in agent_text.lower() else "yes"


def call(name: str, arguments: dict[str, Any]) -> str:
    return f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'


def gold_agent(task: PolicyTask, *, outputs: list[str] | None = None, change: dict[str, Any] | None = None):
    """Emits the gold calls one per turn (the last write's arguments updated with `change`), then tells the
    user the outputs and says goodbye."""
    actions = [(a.name, dict(a.kwargs)) for a in task.actions]
    if change:
        i = max(i for i, (name, _) in enumerate(actions) if TOOL_KINDS[name] is ToolKind.WRITE)
        actions[i][1].update(change)
    said = task.outputs if outputs is None else outputs

    def act(messages: list[dict[str, Any]]) -> str:
        turn = sum(1 for m in messages if m["role"] == "assistant")
        if turn < len(actions):
            return call(*actions[turn])
        return f"Here is what you asked: {', '.join(said)}. Goodbye!"

    return FunctionAgent(act, name="gold")


def play(env: PolicyEnv, task_id: str, agent: FunctionAgent):
    return asyncio.run(run_episode(env, agent, task_id))


@pytest.fixture(params=LAYOUTS)
def layout(request) -> Path:
    return DATA / request.param


def copy_layout(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(DATA / name, dest)
    return dest


def tau_modules() -> list[str]:
    return sorted(m for m in sys.modules if m == "tau_bench" or m.startswith("tau_bench."))


# ------------------------------------------------------------------------------------------ loading


def test_both_layouts_load_the_same_domain(layout):
    domain = load_domain(layout)
    assert domain.name == layout.name
    assert {t.name: t.kind for t in domain.tools} == TOOL_KINDS
    assert [t.id for t in domain.tasks] == TASK_IDS
    assert [t.split for t in domain.tasks] == ["test"] * 5 + ["train"]
    assert set(domain.data) == {"customers", "bikes"} and domain.data["customers"]["c2"]["balance"] == 1250
    assert domain.policy.startswith("# Spoke & Wheel bike rental")
    assert domain.tasks[0].actions[2].kwargs == {"customer_id": "c1", "bike_id": "b1", "hours": 2}
    assert domain.tasks[1].outputs == ["75"] and domain.tasks[0].user_id == "c1"
    rent = next(t for t in domain.tools if t.name == "rent_bike").schema["function"]
    assert rent["parameters"]["required"] == ["customer_id", "bike_id", "hours"]
    assert rent["parameters"]["properties"]["hours"]["type"] == "integer"
    assert "data" not in rent["parameters"]["properties"]
    assert domain.metadata["layout"] == ("tau" if layout.name == "tau_layout" else "plain")
    reference = load_domain(DATA / "tau_layout")
    assert database_hash(domain.data) == database_hash(reference.data)


def test_tau_task_metadata_and_plain_goal():
    tau = load_domain(DATA / "tau_layout")
    assert tau.tasks[0].metadata == {"annotator": "0"} and tau.tasks[0].goal is None
    plain = load_domain(DATA / "plain_layout")
    assert plain.tasks[0].goal.opening.startswith("Hi, I'd like to rent bike b1")
    assert plain.tasks[0].goal.accepts == ["rent_bike"]


def test_shims_are_not_left_installed(tmp_path):
    assert tau_modules() == []
    load_domain(DATA / "tau_layout")
    assert tau_modules() == []
    broken = copy_layout(tmp_path, "tau_layout")
    (broken / "tools" / "get_bike.py").write_text("from tau_bench.envs.tool import Tool\nraise RuntimeError('boom')\n")
    with pytest.raises(DomainLoadError, match="boom"):
        load_domain(broken)
    assert tau_modules() == []


def test_a_real_tau_bench_module_is_put_back(monkeypatch):
    real = types.ModuleType("tau_bench")
    monkeypatch.setitem(sys.modules, "tau_bench", real)
    load_domain(DATA / "tau_layout")
    assert sys.modules["tau_bench"] is real
    assert "tau_bench.types" not in sys.modules


def test_absolute_imports_of_the_domain_itself_work_during_the_load(tmp_path):
    root = copy_layout(tmp_path, "tau_layout")
    edit(root / "tools" / "transfer_to_human_agents.py", "from tau_bench.envs.tool import Tool",
         "from tau_bench.envs.tool import Tool\nfrom tau_bench.envs.tau_layout.tools.get_bike import GetBike  # noqa: F401")
    domain = load_domain(root)
    assert "transfer_to_human_agents" in {t.name for t in domain.tools}
    assert tau_modules() == []


def test_folder_init_is_not_run_and_no_bytecode_is_written():
    load_domain(DATA / "tau_layout")  # its __init__.py imports tau_bench.envs.base, which the shims do not have
    assert not list((DATA / "tau_layout").rglob("__pycache__"))


# ------------------------------------------------------------------------------------------ gold replay


@pytest.mark.parametrize("task_id", TASK_IDS)
def test_gold_actions_score_one_on_every_task(layout, task_id):
    env = PolicyEnv.from_directory(layout, user=PoliteUser(), max_turns=10)
    task = env.policy_task(task_id)
    traj = play(env, task_id, gold_agent(task))
    assert traj.error is None and traj.terminated
    assert traj.reward == 1.0, traj.reward_components
    assert traj.reward_components == {"task_reward": 1.0, "r_actions": 1.0, "r_outputs": 1.0}
    assert traj.info["task_id"] == task_id


def test_gold_writes_change_the_database(layout):
    env = PolicyEnv.from_directory(layout, user=PoliteUser())
    gold = env.gold_database("test-0")
    assert gold["bikes"]["b1"]["status"] == "rented" and gold["customers"]["c1"]["balance"] == 20
    assert env.gold_hash("test-0") != database_hash(env.domain.data)
    assert env.gold_hash("test-2") == database_hash(env.domain.data)  # reads and a transfer change nothing


def test_a_changed_write_argument_scores_zero(layout):
    env = PolicyEnv.from_directory(layout, user=PoliteUser(), max_turns=10)
    traj = play(env, "test-0", gold_agent(env.policy_task("test-0"), change={"hours": 3}))
    assert traj.reward == 0.0 and traj.reward_components["r_actions"] == 0.0
    assert traj.reward_components["r_outputs"] == 1.0


def test_a_missing_output_scores_zero(layout):
    env = PolicyEnv.from_directory(layout, user=PoliteUser(), max_turns=10)
    traj = play(env, "test-1", gold_agent(env.policy_task("test-1"), outputs=["seventy"]))
    assert traj.reward == 0.0
    assert traj.reward_components == {"task_reward": 0.0, "r_actions": 1.0, "r_outputs": 0.0}


def test_outputs_match_with_commas_removed(layout):
    env = PolicyEnv.from_directory(layout, user=PoliteUser(), max_turns=10)
    traj = play(env, "test-4", gold_agent(env.policy_task("test-4"), outputs=["1,250"]))
    assert traj.reward == 1.0


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"customer_id": "c3", "bike_id": "b1", "hours": 2}, "does not cover the price 20"),  # after a partial write
    ({"customer_id": "c1", "bike_id": "b3", "hours": 1}, "premium members only"),
    ({"customer_id": "c1", "bike_id": "b9", "hours": 1}, "KeyError"),
    ({"customer_id": "c1", "bike_id": "b1", "hours": "2"}, "argument 'hours'"),
    ({"customer_id": "c1", "bike_id": "b1"}, "missing required argument 'hours'"),
])
def test_failed_calls_leave_the_database_unchanged(layout, arguments, expected):
    env = PolicyEnv.from_directory(layout, user=PoliteUser())
    env.reset(options={"task_id": "test-0"})
    before = database_hash(env.state.data["db"])
    obs, *_ = env.step(call("rent_bike", arguments))
    assert expected in obs[0]["content"]
    assert database_hash(env.state.data["db"]) == before


def test_a_write_that_raises_midway_is_rolled_back(layout):
    env = PolicyEnv.from_directory(layout, user=PoliteUser())
    env.reset(options={"task_id": "test-3"})
    before = database_hash(env.state.data["db"])
    obs, *_ = env.step(call("return_bike", {"customer_id": "c1", "bike_id": "b2"}))  # c1 does not have b2
    assert "ValueError" in obs[0]["content"]
    assert database_hash(env.state.data["db"]) == before
    assert env.state.data["db"]["bikes"]["b2"]["status"] == "rented"


def test_check_env_passes_on_a_loaded_domain(layout):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*alternative render modes")
        env = PolicyEnv.from_directory(layout, user=PoliteUser())
        try:
            check_env(env)
        finally:
            env.close()


# ------------------------------------------------------------------------------------------ older and odd forms


def test_tasks_py_with_dicts_and_a_data_dict(tmp_path):
    root = copy_layout(tmp_path, "tau_layout")
    for f in root.glob("tasks_*.py"):
        f.unlink()
    (root / "tasks.py").write_text(
        "tasks = [{'user_id': 'c3', 'instruction': 'Return b2.', "
        "'actions': [{'name': 'return_bike', 'arguments': {'customer_id': 'c3', 'bike_id': 'b2'}}]}]\n")
    (root / "data" / "__init__.py").write_text(
        "import json, os\nHERE = os.path.dirname(__file__)\n"
        "data = {n: json.load(open(os.path.join(HERE, n + '.json'))) for n in ('customers', 'bikes')}\n")
    (root / "wiki.md").unlink()
    (root / "wiki.py").write_text("WIKI = 'Be nice.'\n")
    domain = load_domain(root)
    assert [t.id for t in domain.tasks] == ["test-0"]
    assert domain.tasks[0].actions[0].kwargs == {"customer_id": "c3", "bike_id": "b2"}
    assert domain.policy == "Be nice." and set(domain.data) == {"customers", "bikes"}


def test_plain_json_tables_and_kind_attributes(tmp_path):
    root = copy_layout(tmp_path, "plain_layout")
    db = json.loads((root / "db.json").read_text())
    (root / "db.json").unlink()
    (root / "data").mkdir()
    for table, records in db.items():
        (root / "data" / f"{table}.json").write_text(json.dumps(records))
    text = (root / "tools.py").read_text().replace('WRITE_TOOLS = ["rent_bike", "return_bike"]', "")
    (root / "tools.py").write_text(text + "\nget_bike.KIND = 'write'\n")
    domain = load_domain(root)
    assert domain.data == db
    kinds = {t.name: t.kind for t in domain.tools}
    assert kinds["get_bike"] is ToolKind.WRITE and kinds["rent_bike"] is ToolKind.WRITE  # default: write


# ------------------------------------------------------------------------------------------ malformed folders


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


MALFORMED = [
    ("plain_layout", lambda r: edit(r / "tasks.jsonl", '"instruction": "You are Ben', '"instructions": "You are Ben'),
     ["tasks.jsonl", "line 2", "'instruction'"]),
    ("tau_layout", lambda r: edit(r / "tasks_test.py", 'instruction="You are Chen', 'note="You are Chen'),
     ["tasks_test.py", "TASKS_TEST[3]", "'instruction'"]),
    ("plain_layout", lambda r: edit(r / "tasks.jsonl", '"kwargs": {"customer_id": "c3", "bike_id": "b2"}',
                                    '"kwargs": ["c3", "b2"]'),
     ["tasks.jsonl", "line 4", "actions[0]", "'kwargs'", "list"]),
    ("tau_layout", lambda r: edit(r / "tasks_test.py", 'kwargs={"customer_id": "c3", "bike_id": "b2"}',
                                  'kwargs="c3,b2"'),
     ["tasks_test.py", "TASKS_TEST[3]", "actions[0]", "'kwargs'"]),
    ("plain_layout", lambda r: edit(r / "tasks.jsonl", '"name": "return_bike"', '"name": "return_car"'),
     ["tasks.jsonl", "line 4", "'return_car' is not a tool"]),
    ("tau_layout", lambda r: edit(r / "tools" / "get_bike.py", "def get_info()", "def info()"),
     ["tools/__init__.py", "ALL_TOOLS[1]", "GetBike", "'get_info'"]),
    ("tau_layout", lambda r: edit(r / "tools" / "get_bike.py", '"name": "get_bike",', ""),
     ["tools/__init__.py", "ALL_TOOLS[1]", "get_info() must return"]),
    ("tau_layout", lambda r: edit(r / "tools" / "__init__.py", "ALL_TOOLS = [", "SOME_TOOLS = ["),
     ["tools/__init__.py", "'ALL_TOOLS'"]),
    ("tau_layout", lambda r: edit(r / "tools" / "rent_bike.py", "class RentBike(Tool):", "class RentBike(Tool):\n    KIND = 'delete'"),
     ["tools/__init__.py", "RentBike", "'kind'", "'delete'"]),
    ("plain_layout", lambda r: edit(r / "db.json", '"customers": {', '"customers": {,'),
     ["db.json", "invalid JSON", "line 2"]),
    ("tau_layout", lambda r: edit(r / "data" / "bikes.json", '"b1": {', '"b1": {{'),
     ["data/__init__.py", "load_data() failed", "JSONDecodeError"]),
    ("plain_layout", lambda r: (r / "tasks.jsonl").write_text('{"instruction": "x"\n'),
     ["tasks.jsonl", "line 1", "invalid JSON"]),
    ("plain_layout", lambda r: edit(r / "tools.py", "def get_bike(data: dict[str, Any], bike_id: str)",
                                    "def get_bike(db: dict[str, Any], bike_id: str)"),
     ["tools.py", "get_bike", "'data'"]),
    ("plain_layout", lambda r: (r / "policy.md").unlink(), ["no policy document"]),
    ("plain_layout", lambda r: edit(r / "tools.py", "import json", "import json\ndef broken(:\n"),
     ["tools.py", "import failed", "SyntaxError"]),
    ("plain_layout", lambda r: edit(r / "tasks.jsonl", '"outputs": ["75"]', '"outputs": [75]'),
     ["tasks.jsonl", "line 2", "'outputs'"]),
    ("plain_layout", lambda r: edit(r / "tasks.jsonl", '"goal": {"opening"', '"goal": {"mood": 1, "opening"'),
     ["tasks.jsonl", "line 1", "'goal'", "mood"]),
    ("tau_layout", lambda r: edit(r / "tasks_train.py", "TASKS_TRAIN = [", "EXAMPLES = ["),
     ["tasks_train.py", "'TASKS'"]),
]


@pytest.mark.parametrize(("name", "corrupt", "expected"), MALFORMED, ids=[f"{i}" for i in range(len(MALFORMED))])
def test_malformed_files_fail_at_load_naming_file_and_field(tmp_path, name, corrupt, expected):
    root = copy_layout(tmp_path, name)
    corrupt(root)
    with pytest.raises(DomainLoadError) as err:
        load_domain(root)
    message = str(err.value)
    for part in expected:
        assert part in message, message
    assert tau_modules() == []


def test_not_a_domain_folder(tmp_path):
    with pytest.raises(DomainLoadError, match="not a directory"):
        load_domain(tmp_path / "missing")
    with pytest.raises(DomainLoadError, match="no tools"):
        load_domain(tmp_path)
