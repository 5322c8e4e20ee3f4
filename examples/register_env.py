"""Register a new environment in a few lines, then evaluate an agent on it."""

import agentgym
from agentgym import LanguageEnv, Rubric, Task, TaskDataset


def reverse(text: str) -> str:
    """Reverse a string.

    Args:
        text: the string to reverse.
    """
    return text[::-1]


def make_reverse_env(**kwargs) -> LanguageEnv:
    tasks = TaskDataset([Task(id=w, prompt=f"Reverse the word '{w}'. Reply with the result only.", answer=w[::-1])
                         for w in ["agent", "gym", "tool", "reward"]])
    return LanguageEnv(tasks, tools=[reverse], rubric=Rubric([lambda s: float(str(s.answer).strip() == s.task.answer)]),
                       **kwargs)


agentgym.register("Reverse-v0", make_reverse_env)

if __name__ == "__main__":
    from agentgym.agents import FunctionAgent
    from agentgym.rollout import collect

    def solver(messages: list[dict]) -> str:  # calls the tool, then replies with its output
        if messages[-1]["role"] == "user" and "<tool_response>" in messages[-1]["content"]:
            return messages[-1]["content"].split("\n")[1]
        word = messages[-1]["content"].split("'")[1]
        return f'<tool_call>{{"name": "reverse", "arguments": {{"text": "{word}"}}}}</tool_call>'

    trajs = collect("Reverse-v0", FunctionAgent(solver), num_tasks=4, progress=False)
    print("success:", sum(t.success for t in trajs), "/", len(trajs))
