"""Data-parallel training under `torch.distributed`: one code path on 1 or N ranks, CPU (gloo) or GPU (NCCL).

Launched by `torchrun --nproc_per_node N` (or `accelerate launch`), every rank runs the same trainer:

    tasks   = sampler.next(tasks_per_step)      # the same list on every rank (same seed, same data position)
    mine    = shard(tasks, rank, world_size)    # tasks[rank::world_size]: disjoint, together the whole step
    groups  = rollout(mine)                     # a plain (unsharded) copy of the policy, or vLLM, samples
    counts  = all_reduce(sum of token / sequence counts)   # the loss divides by the GLOBAL counts
    loss.backward()                             # FSDP2 reduce-scatters gradients with a SUM (divide factor 1)
    optimizer.step(); sync_weights()            # each rank's engine loads the gathered full weights

Each rank's loss is (its tokens' loss sum) / (the global count), so the sum of the ranks' gradients is the
gradient of the 1-rank loss over the whole batch: N ranks with B/N rows make the same update as one rank
with B rows. FSDP2 (`torch.distributed.fsdp.fully_shard`) shards the policy per decoder layer and then the
root, and works with gloo on CPU in torch 2.13, so the CPU tests run literally the code that runs on GPUs.
FSDP collectives need every rank to run the same number of forward and backward passes, so ranks with
fewer micro-batches run an idle pass (`RLTrainer.optimize`); a rank's own rows never change another's.

Not launched (no `RANK`/`WORLD_SIZE` in the environment), `init` returns a single-process context whose
reductions return their input, and the trainer never wraps the model.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")

# per-step metrics that add up across ranks (counts, throughput); wall times take the slowest rank; every
# other metric is a per-episode mean, averaged weighted by each rank's episodes
SUM_METRICS = frozenset({"episodes", "trained_episodes", "policy_tokens", "tokens_per_second", "sampled_groups",
                         "dropped_groups", "n"})
MAX_METRICS = frozenset({"rollout_seconds", "train_seconds", "sync_seconds", "step_seconds", "seconds"})


def launched() -> bool:
    """Whether this process was started by a distributed launcher (torchrun, accelerate launch)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass
class DistContext:
    """This process's place in the job: rank, world size, device and backend (None: single process).

    Reductions are collectives under a backend (every rank must call them, in the same order) and return
    their input unchanged in a single process, so the trainer calls them unconditionally.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_distributed(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs and writes files."""
        return self.rank == 0

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share of `items` (see `shard`)."""
        return shard(items, self.rank, self.world_size)

    def sum(self, values: Sequence[float]) -> list[float]:
        """Element-wise sum over ranks (float64, so integer counts stay exact)."""
        return self._reduce(values, dist.ReduceOp.SUM)

    def max(self, values: Sequence[float]) -> list[float]:
        """Element-wise maximum over ranks."""
        return self._reduce(values, dist.ReduceOp.MAX)

    def _reduce(self, values: Sequence[float], op: Any) -> list[float]:
        if not self.is_distributed:
            return [float(v) for v in values]
        # NCCL reduces CUDA tensors only; gloo CPU ones
        t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(t, op=op)
        return [float(v) for v in t.cpu().tolist()]

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")

    def gather_objects(self, obj: T) -> list[T]:
        """`obj` of every rank, in rank order (a pickled all-gather; for small metadata only)."""
        if not self.is_distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()


def shard(items: Sequence[T], rank: int, world_size: int) -> list[T]:
    """Rank `rank`'s share of one step's `items`: every `world_size`-th item from position `rank`. The
    shares are disjoint, together they are `items`, and they differ in size by at most one."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside a world of {world_size}")
    return list(items[rank::world_size])


def local_rows(global_rows: int, world_size: int) -> int:
    """Rows per rank for a global minibatch of `global_rows` (at least 1)."""
    return max(math.ceil(global_rows / world_size), 1)


def init(device: str = "auto") -> DistContext:
    """Join the job the launcher started (NCCL on CUDA, gloo on CPU; `device="cpu"` forces gloo), or
    return a single-process context when not launched. On CUDA, rank r uses GPU `LOCAL_RANK` and makes it
    the current device, so `"cuda"` means this rank's GPU."""
    if not launched():
        return DistContext(device=torch.device(_single_device(device)))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                       backend=str(dist.get_backend()),
                       device=torch.device("cuda", local_rank) if use_cuda else torch.device("cpu"))


def _single_device(device: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def shutdown() -> None:
    """Leave the process group (end of a launched run; a no-op otherwise)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------------- metrics


def reduce_step_metrics(per_rank: Sequence[Mapping[str, Any]], weight: str = "episodes") -> dict[str, Any]:
    """One step's metrics from every rank's: counts and throughput (`SUM_METRICS`) add up, wall times
    (`MAX_METRICS`) take the slowest rank, every other number is averaged weighted by each rank's
    `weight` (episodes: a per-episode mean over the whole step). Non-numbers are taken from rank 0."""
    if len(per_rank) == 1:
        return dict(per_rank[0])
    weights = [float(m.get(weight, 0.0) or 0.0) for m in per_rank]
    total = sum(weights)
    out: dict[str, Any] = {}
    for key, first in per_rank[0].items():
        values = [m.get(key) for m in per_rank]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            out[key] = first
        elif key in SUM_METRICS:
            out[key] = sum(values)
        elif key in MAX_METRICS:
            out[key] = max(values)
        elif total > 0:
            out[key] = sum(float(v) * w for v, w in zip(values, weights, strict=True)) / total
        else:
            out[key] = sum(float(v) for v in values) / len(values)
        if isinstance(first, int) and key in SUM_METRICS | {"step", "updates"}:
            out[key] = round(out[key])
    return out


# ---------------------------------------------------------------------- FSDP2


class PolicyScorer(torch.nn.Module):
    """The FSDP2 root around a policy: calling it runs `score_tokens` inside one root forward.

    The scoring path calls the model's body and LM head separately (the head only at policy tokens), so
    the root module must be one whose forward covers both: this wrapper. Its parameter group holds what
    no decoder layer holds (embeddings, final norm, LM head, tied or not); FSDP2 gathers them when it is
    called and reduce-scatters their gradients after the backward. Returns a tuple (FSDP2 hooks the
    backward through the tensors it finds in the output).
    """

    def __init__(self, policy: torch.nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor,
                temperature: float = 1.0, entropy: str | None = None,
                bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        from agentgym.trainers.modeling import score_tokens

        # no shared-prefix pass: it runs the body twice on some micro-batches and once on others, and FSDP
        # needs the same collectives on every rank
        s = score_tokens(self.policy, input_ids, attention_mask, loss_mask, temperature, entropy=entropy,
                         bf16=bf16, share_prefix=False)
        return s.logprobs, s.entropy

    def score(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, loss_mask: torch.Tensor,
              temperature: float = 1.0, entropy: str | None = None, bf16: bool = False) -> Any:
        """`score_tokens` of the wrapped policy, as `TokenScores`."""
        from agentgym.trainers.modeling import TokenScores

        logprobs, ent = self(input_ids, attention_mask, loss_mask, temperature, entropy, bf16)
        return TokenScores(logprobs=logprobs, entropy=ent)

    def idle_backward(self, pad_id: int = 0) -> None:
        """A forward and backward that add exactly zero to every gradient, for a rank with no micro-batch
        left while others still have one: FSDP's all-gathers and reduce-scatters must match across ranks."""
        ids = torch.full((1, 2), pad_id, dtype=torch.long, device=_device_of(self))
        logprobs, _ = self(ids, torch.ones_like(ids), torch.tensor([[0, 1]], device=ids.device))
        (logprobs.sum() * 0.0).backward()


def _device_of(module: torch.nn.Module) -> torch.device:
    p = next(module.parameters())
    return p.to_local().device if hasattr(p, "to_local") else p.device


def layer_modules(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The decoder layers to shard one by one: modules whose class transformers lists in
    `_no_split_modules` (e.g. `LlamaDecoderLayer`), outermost first; none for other models."""
    from agentgym.trainers.modeling import unwrap_peft

    names = set(getattr(unwrap_peft(model), "_no_split_modules", None) or ())
    return [m for m in model.modules() if type(m).__name__ in names]


def broadcast_module(module: torch.nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every rank (randomly initialized models may differ)."""
    if not ctx.is_distributed:
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def shard_policy(model: torch.nn.Module, ctx: DistContext, broadcast: bool = True) -> PolicyScorer:
    """FSDP2-shard `model` in place (each decoder layer, then a `PolicyScorer` root around it) over all
    ranks, with gradients summed rather than averaged (each rank's loss already divides by the global
    count). Returns the scorer the trainer calls for log-probs. `model` keeps its class and module tree;
    its parameters become `DTensor` shards. `broadcast`: first copy rank 0's weights to every rank."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, fully_shard

    if broadcast:
        broadcast_module(model, ctx)
    mesh = init_device_mesh(ctx.device.type, (ctx.world_size,))
    for layer in layer_modules(model):
        fully_shard(layer, mesh=mesh)
    scorer = PolicyScorer(model)
    fully_shard(scorer, mesh=mesh)
    for m in scorer.modules():
        if isinstance(m, FSDPModule):  # a plain SUM (gloo has no pre-multiplied sum; NCCL does not need one)
            m.set_gradient_divide_factor(1.0)
            m.set_force_sum_reduction_for_comms(True)
    return scorer


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether any parameter of `model` is a DTensor shard."""
    from torch.distributed.tensor import DTensor

    return any(isinstance(p, DTensor) for p in model.parameters())


@torch.no_grad()
def full_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """`model.state_dict()` with every DTensor shard gathered into the full tensor (a collective: every
    rank calls it and gets the full weights, which is what a colocated rollout engine loads); a plain
    model's own state dict otherwise. Keys are the model's own (tied weights appear under both names)."""
    from torch.distributed.tensor import DTensor

    return {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach() for k, v in model.state_dict().items()}


def full_weights_on_main(model: torch.nn.Module, ctx: DistContext) -> dict[str, torch.Tensor] | None:
    """The full state dict on the CPU of rank 0 (None elsewhere), gathered one tensor at a time; tied
    weights (e.g. the LM head and the embeddings) stay one shared tensor, as `save_pretrained` expects."""
    from torch.distributed.tensor import DTensor

    out: dict[str, torch.Tensor] | None = {} if ctx.is_main else None
    # the same decisions on every rank (each full_tensor() is a collective): ties by parameter object
    param_of = {name: id(p) for name, p in model.named_parameters(remove_duplicate=False)}
    seen: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for k, v in model.state_dict().items():
            ident = param_of.get(k)
            if ident is not None and ident in seen:
                full = seen[ident]
            else:
                full = (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu().clone()
                if ident is not None:
                    seen[ident] = full
            if out is not None:
                out[k] = full
    return out


def load_full_state_dict(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    """Load full tensors into `model` in place, each into its DTensor shard where sharded. Returns
    `(missing, unexpected)` keys as `load_state_dict(strict=False)` does."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    with torch.no_grad():
        for k, target in own.items():
            if k not in state:
                continue
            if isinstance(target, DTensor):
                src = distribute_tensor(state[k].to(target.device_mesh.device_type).to(target.dtype),
                                        target.device_mesh, target.placements)
                target.to_local().copy_(src.to_local())
            else:
                target.copy_(state[k].to(target.device, target.dtype))
    return missing, unexpected


# ---------------------------------------------------------------------- optimizer state


def _full(t: Any) -> Any:
    from torch.distributed.tensor import DTensor

    return t.full_tensor() if isinstance(t, DTensor) else t


def full_optimizer_state(optimizer: torch.optim.Optimizer, ctx: DistContext) -> dict[str, Any] | None:
    """`optimizer.state_dict()` with every DTensor state gathered to the full tensor, on rank 0's CPU
    (None elsewhere): the same file format, keyed by parameter index, as a single-process run writes, so a
    checkpoint resumes on any number of ranks."""
    sd = optimizer.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for idx in sorted(sd["state"]):
        entry = {}
        for k, v in sd["state"][idx].items():
            full = _full(v)
            entry[k] = full.detach().cpu().clone() if isinstance(full, torch.Tensor) else full
        state[idx] = entry
    return {"state": state, "param_groups": sd["param_groups"]} if ctx.is_main else None


def load_full_optimizer_state(optimizer: torch.optim.Optimizer, full: Mapping[str, Any]) -> None:
    """Load a full (index-keyed) optimizer state into an optimizer over DTensor shards (or plain
    parameters): each state tensor shaped like its parameter is sharded like it."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    params = [p for g in optimizer.param_groups for p in g["params"]]
    state: dict[int, dict[str, Any]] = {}
    for idx, entry in full["state"].items():
        p = params[int(idx)]
        out = {}
        for k, v in entry.items():
            if isinstance(p, DTensor) and isinstance(v, torch.Tensor) and v.shape == p.shape:
                v = distribute_tensor(v.to(p.device_mesh.device_type), p.device_mesh, p.placements)
            out[k] = v
        state[int(idx)] = out
    optimizer.load_state_dict({"state": state, "param_groups": full["param_groups"]})
