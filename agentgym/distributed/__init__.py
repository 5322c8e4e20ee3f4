"""Running episodes past one process: rollout workers as Ray actors (`RayRolloutPool`).

Ray is imported only when a pool starts (`pip install ray`, or the `test` extra).
"""

from agentgym.distributed.ray_rollout import AgentPolicy, EnvSpec, RayRolloutPool, RolloutWorker, WorkerPolicy

__all__ = ["AgentPolicy", "EnvSpec", "RayRolloutPool", "RolloutWorker", "WorkerPolicy"]
