"""Environment families, installed as `agentgym.envs.*`.

`register_builtin_envs()` registers every built-in environment id (by entry-point string, so nothing
heavy is imported until an env is made). It runs on `import agentgym`.
"""

from __future__ import annotations


def register_builtin_envs() -> None:
    from agentgym.registry import register

    register("Arithmetic-v0", "agentgym.envs.arithmetic:ArithmeticEnv")
    register("HumanEval-v0", "agentgym.envs.code:HumanEvalEnv")
    register("MathPython-v0", "agentgym.envs.code:MathPythonEnv")
    register("PythonAlgo-v0", "agentgym.envs.code:PythonAlgoEnv")
    register("MultiHopQA-v0", "agentgym.envs.search:MultiHopQAEnv")
    register("SearchQA-v0", "agentgym.envs.search:SearchQAEnv")
    register("MathSearch-v0", "agentgym.envs.mixed:MathSearchEnv")
    register("PolicyDoc-v0", "agentgym.envs.policy:make_policydoc_env")
    # TAPO's tag protocol and IterResearch's Markovian workspace over the tool envs (agentgym.wrappers)
    register("TAPO-MathPython-v0", "agentgym.wrappers:make_tapo_env", kwargs={"base_env": "MathPython-v0"})
    register("TAPO-MultiHopQA-v0", "agentgym.wrappers:make_tapo_env",
             kwargs={"base_env": "MultiHopQA-v0", "open_tool": False})
    register("TAPO-MathSearch-v0", "agentgym.wrappers:make_tapo_env", kwargs={"base_env": "MathSearch-v0"})
    register("EAPO-MultiHopQA-v0", "agentgym.wrappers:make_workspace_env", kwargs={"base_env": "MultiHopQA-v0"})
    # MiniWoB++ task pages (the `miniwob` package) in Chromium, and BrowserGym tasks (envs/web); the task list is
    # a text file so that registering imports nothing
    from pathlib import Path

    web = Path(__file__).parent / "web"
    for name in (web / "miniwob" / "tasks.txt").read_text().split():
        register(f"miniwob.{name}-v0", "agentgym.envs.web.miniwob.env:MiniWoBEnv", kwargs={"task": name})
    # the MiniWoB tasks BrowserGym registers (125 of the package's 130)
    for name in (web / "browsergym_miniwob_tasks.txt").read_text().split():
        register(f"browsergym.miniwob.{name}-v0", "agentgym.envs.web.browsergym:BrowserGymEnv",
                 kwargs={"task": f"browsergym/miniwob.{name}"})
    register("BrowserGym-v0", "agentgym.envs.web.browsergym:BrowserGymEnv")
    register("WebShop-v0", "agentgym.envs.web.webshop:make_webshop_env")
    # Graph-of-Thoughts tasks as thought-graph decision processes (ARIES; envs/thought_graph), with the
    # programmatic reasoner unless a `reasoner=` is given
    register("ThoughtGraph-v0", "agentgym.envs.thought_graph:ThoughtGraphEnv")
    for family in ("sorting", "set_intersection"):
        for size in (32, 64, 128):
            register(f"thought_graph.{family}{size}-v0", "agentgym.envs.thought_graph:ThoughtGraphEnv",
                     kwargs={"task": family, "size": size})
    register("thought_graph.keyword_counting-v0", "agentgym.envs.thought_graph:ThoughtGraphEnv",
             kwargs={"task": "keyword_counting", "size": 16})
    register("thought_graph.doc_merging-v0", "agentgym.envs.thought_graph:ThoughtGraphEnv",
             kwargs={"task": "doc_merging", "size": 32})
    register("thought_graph.humaneval-v0", "agentgym.envs.thought_graph:ThoughtGraphEnv",
             kwargs={"task": "humaneval"})
