"""Helper process for the data-parallel tests: one GRPO step of the tiny model on a FIXED set of groups.

Usage: python _dp_run.py OUT_DIR              (one process: the whole batch)
       torchrun --nproc_per_node N _dp_run.py OUT_DIR   (each rank takes its share of the same groups)

The groups are built from fixed token ids and rewards (no sampling), five groups of four episodes whose
lengths differ, so the ranks hold different numbers of rows and policy tokens: with 2 ranks, rank 0 gets
three groups (three micro-batches of 4 rows) and rank 1 two (two micro-batches, then an idle pass).
Rank 0 writes OUT_DIR/result.pt: the initial and updated full weights, the rollout engine's weights after
the sync, the step's metrics, and the number of rows each rank trained on.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import torch
from _tiny_rl import KeyEnv, tiny_model, tiny_tokenizer
from agentgym.trainers import GRPOConfig, GRPOTrainer
from agentgym.trainers.base import Rollout
from agentgym.trainers.distributed import full_weights_on_main, shutdown
from agentgym.trainers.shapers import Group

from agentgym.trajectory import Trajectory, Turn

GROUPS, SIZE = 5, 4
RUN = dict(steps=1, learning_rate=1e-2, group_size=SIZE, tasks_per_step=GROUPS, max_new_tokens=8, max_length=64,
           micro_batch_size=4, ppo_epochs=2, seed=0, report_to=[], log_entropy=True)


def fixed_groups(vocab: int) -> list[Group]:
    """Five groups of four two-turn episodes: fixed ids, lengths 1-6 tokens per turn, varied rewards."""
    gen = torch.Generator().manual_seed(1234)
    groups = []
    for g in range(GROUPS):
        trajs = []
        for i in range(SIZE):
            turns = []
            for k in range(2):
                ctx = torch.randint(3, vocab, (3 + g,), generator=gen).tolist()
                n = 1 + (g + i + k) % 6
                ids = torch.randint(3, vocab, (n,), generator=gen).tolist()
                lps = (-torch.rand(n, generator=gen) * 3).tolist()
                turns.append(Turn({"role": "assistant", "content": ""}, token_ids=ids, logprobs=lps, context_ids=ctx, completion_tokens=n,
                                  reward=float((g * 7 + i * 3 + k) % 5) / 4))
            trajs.append(Trajectory(episode_id=f"{g}-{i}", env_id="fixed", task_id=f"task-{g}", agent_id="tiny",
                                    sample_index=i, turns=turns, reward=sum(t.reward for t in turns)))
        groups.append(Group(f"task-{g}", trajs, SIZE))
    return groups


class FixedGroupsTrainer(GRPOTrainer):
    """GRPO whose rollout is the fixed groups, sharded over the ranks exactly as sampled tasks are."""

    def collect(self) -> Rollout:
        mine = self.dp.shard(fixed_groups(len(self.tokenizer)))
        self.rows_here = sum(len(g.trajectories) for g in mine)
        return Rollout(mine, [t for g in mine for t in g.trajectories], {"sampled_groups": float(len(mine))})


class FakeLLM:
    """What `VLLMEngine.sync_weights` uses of `vllm.LLM`: `apply_model(fn)` runs `fn` on the engine's model
    (whose `load_weights` takes `(name, tensor)` pairs, as vLLM's models do) and `reset_prefix_cache()`."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        model.load_weights = lambda weights: model.load_state_dict(dict(weights))  # type: ignore[assignment]

    def apply_model(self, fn: Callable[[torch.nn.Module], Any]) -> list[Any]:
        return [fn(self.model)]

    def reset_prefix_cache(self) -> None:
        return None


def fake_vllm_sync(trainer: GRPOTrainer) -> dict[str, torch.Tensor]:
    """Sync a `VLLMEngine` (built around `FakeLLM`, no vllm needed) from the sharded policy; its weights."""
    from agentgym.trainers.engines.vllm import VLLMEngine

    engine = VLLMEngine.__new__(VLLMEngine)
    engine.llm, engine._asleep, engine.sleep_between_rollouts = FakeLLM(tiny_model(trainer.tokenizer, seed=9)), False, False
    engine.sync_weights(trainer.model)
    return {k: v.detach().clone() for k, v in engine.llm.model.state_dict().items()}


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    trainer = FixedGroupsTrainer(tiny_model(tok, seed=0), KeyEnv, GRPOConfig(**RUN), tokenizer=tok)
    initial = full_weights_on_main(trainer.model, trainer.dp)
    metrics = trainer.train_step()
    updated = full_weights_on_main(trainer.model, trainer.dp)
    engine = {k: v.detach().clone() for k, v in trainer.engine.model.state_dict().items()}
    # VLLMEngine.sync_weights on every rank, with a stand-in for vllm.LLM around a plain copy of the model
    vllm_model = fake_vllm_sync(trainer)
    vllm_error = max((vllm_model[k] - engine[k]).abs().max().item() for k in engine)
    rows = trainer.dp.gather_objects(trainer.rows_here)
    vllm_errors = trainer.dp.gather_objects(vllm_error)
    if trainer.dp.is_main:
        out.mkdir(parents=True, exist_ok=True)
        torch.save({"initial": initial, "updated": updated, "engine": engine, "metrics": metrics, "rows": rows,
                    "vllm_errors": vllm_errors, "world_size": trainer.dp.world_size}, out / "result.pt")
    trainer.close()
    shutdown()


if __name__ == "__main__":
    main()
