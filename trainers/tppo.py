"""`TPPOTrainer`: Truncated PPO (T-PPO, Fan et al. 2025, arXiv 2506.15050): PPO over fixed windows of long
responses, with successive batching and Extended GAE.

Per step, on top of `PPOTrainer`::

    for each in-flight episode: generate at most W = window_tokens new policy tokens (across its turns)
        an episode whose budget runs out mid-turn or between turns is paused, not ended: its session keeps
        its exact token context and continues it in the next step's window, under the updated policy
    new tasks fill the slots of the episodes that finished (successive batching), so the batch stays
        tasks_per_step x group_size episodes
    rows = every episode's recorded token view; loss_mask = the tokens generated in this window
    A = Extended GAE: a paused (truncated) response bootstraps V(s_l) := V(s_{l-1}); a finished one 0
    policy loss on every row's window tokens; value loss on every token of the finished responses only

Each token is trained exactly once, in the step of the window that generated it, and its old log-prob is
the one recorded when it was sampled, i.e. under the policy of that step (the point of T-PPO: no token is
trained off-policy, and no step waits for the longest response).

The paused episodes live on the trainer's own event loop between steps (`WindowRunner`): each one is a
task of the one episode loop (`agentgym.episode.run_episode`) blocked inside its `WindowedSession` until
the next window gives it a budget. Its env is held for it; its turns are recorded as the loop records
them (context ids, generated ids, log-probs), and a `_RecordingEnv` notes each step's reward, so a paused
episode's training row is built by the same `build_batch` as a finished one's.

Faithfulness notes (only the paper's abstract was at hand here, and no code was released with it; the
design follows the issue's description of the method):

- The paper's unit is one response of a single-turn reasoning task; here the window budget counts an
  episode's policy tokens across its turns, env turns (tool results) do not count, and a multi-turn episode
  may pause between turns as well as inside one.
- Value targets: the value model is trained only on finished responses, on all of their tokens (every
  window's), with the GAE returns of the whole response (`lam` as configured). The paper's critic target
  is the same set of tokens; whether its critic GAE uses the actor's lambda or lambda = 1 (as in VC-PPO,
  from the same group) is not restated here, so `lam` serves both.
- Successive batching refills whole groups: with `group_size` > 1 a new task starts only when `group_size`
  slots are free, so between refills fewer than `tasks_per_step * group_size` episodes may be in flight.
- Episodes in flight are not saved in checkpoints: a resumed run starts new episodes (their tasks, already
  drawn, are skipped). Not supported: DAPO dynamic sampling, data parallelism, Ray rollout workers.
- A stop string that straddles a window boundary is found when the next window's piece is generated
  (`stop_across_boundary`) and the tokens after it are dropped; tokens sampled past it are discarded.
- Throughput: requests are batched by their sampling settings, and a piece's `max_new_tokens` is the
  smaller of the window left and the turn left, so pieces that end a turn decode in their own batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from agentgym.trainers.algorithms.advantages import gae_advantages
from agentgym.trainers.algorithms.masked import masked_whiten
from agentgym.trainers.base import Rollout
from agentgym.trainers.config import PPOConfig, RLConfig, UnsupportedSetup
from agentgym.trainers.data import TokenBatch
from agentgym.trainers.ppo import PPOTrainer
from agentgym.trainers.shapers import Group

from agentgym.agents.base import AgentOutput
from agentgym.agents.token_agent import TokenAgent, TokenSession
from agentgym.episode import EnvFactory, PreparePrompt, run_episode
from agentgym.models.chat_template import assistant_message
from agentgym.trajectory import Trajectory, Turn, episode_key

# ---------------------------------------------------------------------------------------------- formulas


@torch.no_grad()
def tppo_advantages(
    token_rewards: torch.Tensor,
    values: torch.Tensor,
    policy_mask: torch.Tensor,
    value_mask: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float = 1.0,
    lam: float = 1.0,
    whiten: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """T-PPO's advantages and value targets for one window's rows.

    Extended GAE over the tokens that have values (`policy_mask` or `value_mask`), env tokens skipped::

        delta_t = r_t + gamma V(s_{t+1}) - V(s_t)
        A_t     = sum_{k=0}^{l-t-1} (gamma lam)^k delta_{t+k}
        V(s_l)  = V(s_{l-1})   for a truncated row (the response goes on in the next window)
        V(s_l)  = 0            for a finished row

    `policy_mask` (B, T): the tokens generated in this window (the policy loss trains them);
    `value_mask` (B, T): every policy token of the finished responses (the value loss trains them; a
    finished response's earlier windows are in it, and in the GAE sweep, so its returns are those of the
    whole response); `truncated` (B,): rows whose response was cut by the window.

    Returns `(advantages, returns)`: advantages on `policy_mask` (whitened over it when `whiten`), returns
    `R_t = A_t + V(s_t)` (before whitening) on `value_mask`. A finished row's window tokens get the same
    advantages as GAE over that window alone would give (GAE runs backwards from the response's end).
    """
    pm = policy_mask.to(values.dtype)
    vm = value_mask.to(values.dtype)
    critic = torch.maximum(pm, vm)
    adv, ret = gae_advantages(token_rewards, values, critic, gamma, lam, whiten=False, truncated=truncated)
    if whiten:
        adv = masked_whiten(adv, pm)
    return adv * pm, ret * vm


def stop_across_boundary(tokenizer: Any, tokens: Sequence[int], start: int, stop: Sequence[str]) -> int | None:
    """Where to cut `tokens` when a stop string ends at or after index `start` but begins before it (it
    straddles the boundary between two windows' pieces of one turn, which neither piece's own stop check
    sees). Returns the length to keep (through the token that completes the stop string), or None."""
    stops = [s for s in stop if s]
    if not stops or start <= 0:
        return None
    reach = max(len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in stops) + 3
    for k in range(start, min(len(tokens), start + reach)):
        lo = max(0, k + 1 - reach)
        tail = tokenizer.decode(list(tokens[lo: k + 1]), skip_special_tokens=False)
        before = tokenizer.decode(list(tokens[lo: k]), skip_special_tokens=False)
        if any(s in tail and s not in before for s in stops):  # completed by token k
            return k + 1
    return None


# ---------------------------------------------------------------------------------------------- windows


@dataclass
class _Partial:
    """The turn being generated: the ids appended before it, and what it has generated so far."""

    context_ids: list[int]
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    windows: list[int] = field(default_factory=list)


@dataclass
class EpisodeSlot:
    """One in-flight episode of the batch: its env, its window budget, and what it has recorded so far
    (the turns the env has stepped, with the window each generated token came from)."""

    task_id: str
    sample_index: int
    env: Any
    budget: int = 0
    window: int = 0
    paused: bool = False
    done: bool = False
    resume: asyncio.Event | None = None
    task: asyncio.Task[Trajectory] | None = None
    turns: list[Turn] = field(default_factory=list)
    turn_windows: list[list[int]] = field(default_factory=list)
    last_output: tuple[AgentOutput, list[int]] | None = None
    partial: _Partial | None = None

    def partial_trajectory(self, env_id: str) -> tuple[Trajectory, list[list[int]]]:
        """The paused episode as a trajectory (its stepped turns, then the turn in progress, if it has
        generated anything) and the window of each generated token, turn by turn."""
        turns, windows = list(self.turns), [list(w) for w in self.turn_windows]
        p = self.partial
        if p is not None and p.tokens:
            turns.append(Turn(assistant={"role": "assistant", "content": ""}, token_ids=list(p.tokens),
                              logprobs=list(p.logprobs), context_ids=list(p.context_ids),
                              completion_tokens=len(p.tokens), finish_reason="window"))
            windows.append(list(p.windows))
        traj = Trajectory(episode_id=episode_key(self.task_id, self.sample_index), env_id=env_id,
                          task_id=self.task_id, agent_id="policy", sample_index=self.sample_index, turns=turns,
                          truncated=True, truncation_reason="window")
        return traj, windows


_SLOT: ContextVar[EpisodeSlot | None] = ContextVar("agentgym_tppo_slot", default=None)


class _RecordingEnv:
    """The slot's env, noting each step's turn (as `run_episode` records it) on the slot."""

    def __init__(self, env: Any, slot: EpisodeSlot) -> None:
        self.env, self.slot = env, slot

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        return await self.env.areset(seed=seed, options=options)

    async def astep(self, action: Any) -> Any:
        out = await self.env.astep(action)
        obs, reward, _, _, info = out
        assert self.slot.last_output is not None
        gen, windows = self.slot.last_output
        self.slot.turns.append(Turn(
            assistant=gen.message, observation=[dict(m) for m in obs], reward=float(reward), token_ids=gen.token_ids,
            logprobs=gen.logprobs, context_ids=gen.context_ids, completion_tokens=gen.completion_tokens,
            finish_reason=gen.finish_reason, context_reset=bool(info.get("context_reset"))))
        self.slot.turn_windows.append(windows)
        return out

    async def aclose(self) -> None:
        await self.env.aclose()


class WindowedSession(TokenSession):
    """A `TokenSession` whose turns spend the slot's window budget: a turn cut by the budget pauses (the
    episode's task waits for the next window) and then continues from the exact ids generated so far."""

    def __init__(self, agent: TokenAgent, messages: Sequence[dict[str, Any]],
                 tools: Sequence[dict[str, Any]] | None, stop: Sequence[str], slot: EpisodeSlot,
                 runner: WindowRunner) -> None:
        super().__init__(agent, messages, tools, stop)
        self.slot, self.runner = slot, runner

    async def _wait_for_budget(self) -> None:
        slot = self.slot
        while slot.budget <= 0:
            slot.resume = asyncio.Event()
            slot.paused = True
            self.runner.check_idle()
            await slot.resume.wait()

    async def next(self) -> AgentOutput:
        agent, slot = self.agent, self.slot
        total = agent.completion_budget(len(self.ids))  # the turn's own cap (max_new_tokens, context room)
        part = slot.partial = _Partial(list(self.pending))
        latency, finish = 0.0, "length"
        loop = asyncio.get_running_loop()
        while True:
            await self._wait_for_budget()
            n = min(total - len(part.tokens), slot.budget)
            t0 = loop.time()
            gen = await agent.generator.generate(self.ids + part.tokens,
                                                 replace(agent.params, max_new_tokens=n, stop=self.stop))
            latency += loop.time() - t0
            start = len(part.tokens)
            part.tokens += gen.token_ids
            part.logprobs += gen.logprobs
            part.windows += [slot.window] * len(gen.token_ids)
            finish = gen.finish_reason
            cut = stop_across_boundary(agent.tokenizer, part.tokens, start, self.stop)
            if cut is not None:
                del part.tokens[cut:], part.logprobs[cut:], part.windows[cut:]
                finish = "stop"
            slot.budget -= len(part.tokens) - start
            if finish != "length" or len(part.tokens) >= total or n <= 0:
                break  # the turn ended on its own; otherwise the window cut it: pause, then go on
        slot.partial = None
        text = agent.tokenizer.decode(part.tokens, skip_special_tokens=True)
        self._text = text
        out = AgentOutput(message=assistant_message(text, self.tools), token_ids=list(part.tokens),
                          logprobs=list(part.logprobs), prompt_tokens=len(self.ids),
                          completion_tokens=len(part.tokens), finish_reason=finish, latency=latency,
                          context_ids=part.context_ids)
        slot.last_output = (out, list(part.windows))
        return out


class WindowedTokenAgent(TokenAgent):
    """A `TokenAgent` whose episodes, when played by a `WindowRunner`, generate in windows."""

    def __init__(self, *args: Any, runner: WindowRunner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runner = runner

    def start_episode(self, messages: Sequence[dict[str, Any]], *, tools: Sequence[dict[str, Any]] | None = None,
                      stop: Sequence[str] = ()) -> TokenSession:
        slot = _SLOT.get()
        if slot is None:  # not played by the runner: an ordinary token session
            return super().start_episode(messages, tools=tools, stop=stop)
        return WindowedSession(self, messages, tools, stop, slot, self.runner)


class WindowRunner:
    """Episodes in flight across training steps, on an event loop of their own (paused tasks wait on it
    between steps). `run_window` gives every paused episode a new budget, starts new ones, and runs the
    loop until every episode is paused or finished."""

    def __init__(self, make_env: EnvFactory, engine: Any, tokenizer: Any, params: Any, *, env_id: str = "",
                 max_length: int | None = None, prepare: PreparePrompt | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.make_env, self.env_id, self.prepare = make_env, env_id, prepare
        self.agent = WindowedTokenAgent(engine, tokenizer, params, context_window=engine.context_window,
                                        max_length=max_length, runner=self)
        self.slots: list[EpisodeSlot] = []
        self.free_envs: list[Any] = []
        self.window = 0
        self._idle: asyncio.Event | None = None

    def check_idle(self) -> None:
        if self._idle is not None and all(s.paused or s.done for s in self.slots):
            self._idle.set()

    async def _play(self, slot: EpisodeSlot) -> Trajectory:
        _SLOT.set(slot)  # this task's context: the session finds its slot
        try:
            return await run_episode(_RecordingEnv(slot.env, slot), self.agent, slot.task_id, slot.sample_index,
                                     env_id=self.env_id, prepare=self.prepare)
        finally:
            slot.done = True
            self.check_idle()

    async def _until_idle(self) -> None:
        self._idle = asyncio.Event()
        self.check_idle()
        await self._idle.wait()
        self._idle = None

    def run_window(self, budget: int, task_ids: Sequence[str], group_size: int) -> tuple[
            list[tuple[Trajectory, EpisodeSlot]], list[EpisodeSlot]]:
        """One window: `budget` tokens for each paused episode and for `group_size` new episodes of each of
        `task_ids`. Returns the episodes that finished (trajectory and slot) and those paused again."""
        self.window += 1
        for slot in self.slots:
            slot.budget, slot.window, slot.paused = budget, self.window, False
            assert slot.resume is not None
            slot.resume.set()
        for tid in task_ids:
            for k in range(group_size):
                env = self.free_envs.pop() if self.free_envs else self.make_env()
                slot = EpisodeSlot(tid, k, env, budget=budget, window=self.window)
                self.slots.append(slot)
                slot.task = self.loop.create_task(self._play(slot))
        self.loop.run_until_complete(self._until_idle())
        done = [s for s in self.slots if s.done]
        tasks = [s.task for s in done if s.task is not None]

        async def results() -> list[Trajectory]:
            return list(await asyncio.gather(*tasks))  # an AgentError of an episode is raised here

        trajs = self.loop.run_until_complete(results())
        self.slots = [s for s in self.slots if not s.done]
        self.free_envs += [s.env for s in done]
        return list(zip(trajs, done, strict=True)), list(self.slots)

    def close(self) -> None:
        """Cancel the paused episodes, close every env and the loop."""
        if self.loop.is_closed():
            return
        tasks = asyncio.all_tasks(self.loop)
        for t in tasks:
            t.cancel()

        async def finish() -> None:
            await asyncio.gather(*tasks, return_exceptions=True)
            for env in [*(s.env for s in self.slots), *self.free_envs]:
                with contextlib.suppress(Exception):
                    await env.aclose()

        self.loop.run_until_complete(finish())
        self.slots, self.free_envs = [], []
        self.loop.close()


def window_masks(batch: TokenBatch, trajectories: Sequence[Trajectory], windows: Sequence[Sequence[Sequence[int]]],
                 finished: Sequence[bool], current: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(in_window, value_mask, window_truncated)` of a batch built from `trajectories` (rows in order, one
    per token context): `in_window` (B, T) marks the policy tokens generated in window `current` (the k-th
    policy token of a row is the k-th generated token of its context, `windows[e][turn][i]` says which
    window generated it); `value_mask` every policy token of a finished episode; `window_truncated` (B,)
    the last row of an unfinished episode."""
    policy = batch.turn_index >= 0
    in_window = torch.zeros_like(batch.loss_mask)
    value_mask = torch.zeros_like(batch.loss_mask)
    truncated = torch.zeros(len(batch), dtype=torch.bool)
    row = 0
    for e, traj in enumerate(trajectories):
        assert len(windows[e]) == len(traj.turns), (traj.episode_id, len(windows[e]), len(traj.turns))
        contexts = traj.contexts()
        k = 0
        for c, turns in enumerate(contexts):
            flat = [w for i in range(k, k + len(turns)) for w in windows[e][i]]
            k += len(turns)
            assert int(batch.episode_index[row]) == e
            cols = policy[row].nonzero().squeeze(-1)
            wins = torch.tensor(flat[: len(cols)], dtype=torch.long)
            in_window[row, cols] = (wins == current).to(in_window.dtype)
            if finished[e]:
                value_mask[row, cols] = 1
            elif c == len(contexts) - 1:
                truncated[row] = True
            row += 1
    assert row == len(batch)
    return in_window, value_mask, truncated


# ---------------------------------------------------------------------------------------------- trainer


@dataclass
class TPPOConfig(PPOConfig):
    """T-PPO: `PPOConfig` plus `window_tokens`, the policy tokens each in-flight episode generates per
    step (W). Responses longer than W span several steps; a good W is a fraction of the longest response
    (`max_new_tokens` per turn, times the turns). The other defaults are PPO's (value head, GAE with
    `lam` 0.95, whitened advantages, `group_size` 1)."""

    window_tokens: int = 256

    def validate(self) -> None:
        super().validate()
        if self.window_tokens < 1:
            self._fail("window_tokens", "must be >= 1")
        if self.dynamic_sampling:
            self._fail("dynamic_sampling", "is not supported with T-PPO's windows (episodes finish across steps)")


class TPPOTrainer(PPOTrainer):
    """Truncated PPO (see the module docstring and `TPPOConfig`); arguments as `PPOTrainer`."""

    config_class: ClassVar[type[RLConfig]] = TPPOConfig
    name: ClassVar[str] = "tppo"
    config: TPPOConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise UnsupportedSetup("T-PPO keeps its in-flight episodes in one process: launch it without torchrun")
        if kwargs.get("rollout_workers"):
            raise UnsupportedSetup("T-PPO keeps its in-flight episodes in this process: use rollout_workers=0")
        self._runner: WindowRunner | None = None
        self._windows: dict[int, tuple[list[list[int]], bool]] = {}
        self._value_counts: dict[str, float] = {}
        super().__init__(*args, **kwargs)

    @property
    def runner(self) -> WindowRunner:
        """The episodes in flight (made on first use)."""
        if self._runner is None:
            from agentgym.trainers.rollout_workers import ShaperPrompt

            cfg = self.config
            prepare = ShaperPrompt(self.shapers, cfg.group_size) if self.shapers else None
            self._runner = WindowRunner(self.make_env, self.engine, self.tokenizer, self._params(),
                                        env_id=self.env_id, max_length=cfg.max_length, prepare=prepare)
        return self._runner

    # ------------------------------------------------------------------ 1. rollout: one window

    def collect(self) -> Rollout:
        """One window: paused episodes go on, new tasks fill the finished episodes' slots (successive
        batching); the groups hold the finished episodes and the paused ones (as partial trajectories)."""
        cfg = self.config
        runner = self.runner
        free = cfg.tasks_per_step * cfg.group_size - len(runner.slots)
        tasks = self.sampler.next(free // cfg.group_size) if free >= cfg.group_size else []
        finished, paused = runner.run_window(cfg.window_tokens, tasks, cfg.group_size)
        self._windows = {}
        by_task: dict[str, list[Trajectory]] = {}
        for traj, slot in finished:
            self._windows[id(traj)] = ([list(w) for w in slot.turn_windows], True)
            by_task.setdefault(traj.task_id, []).append(traj)
        for slot in paused:
            part, wins = slot.partial_trajectory(self.env_id)
            self._windows[id(part)] = (wins, False)
            by_task.setdefault(part.task_id, []).append(part)
        groups = [Group(tid, trajs, cfg.group_size) for tid, trajs in by_task.items()]
        stats = {"window": float(runner.window), "finished_episodes": float(len(finished)),
                 "carried_episodes": float(len(paused)), "new_episodes": float(len(tasks) * cfg.group_size)}
        return Rollout(groups, [t for t, _ in finished], stats)

    def is_finished(self, traj: Trajectory) -> bool:
        """Whether `traj` finished (False: a paused episode's partial trajectory)."""
        return self._windows[id(traj)][1]

    def shape_rewards(self, groups: list[Group]) -> None:
        """Reward stages see each task's episodes that finished in this window (not the paused ones)."""
        super().shape_rewards([Group(g.task_id, [t for t in g.trajectories if self.is_finished(t)], g.size)
                               for g in groups])

    # ------------------------------------------------------------------ 3. token batch

    def build_batch(self, trajectories: list[Trajectory]) -> TokenBatch:
        """The recorded view of finished and paused episodes; the policy trains on this window's tokens,
        the critic on finished responses; paused rows are marked for Extended GAE."""
        batch = super().build_batch(trajectories)
        in_window, value_mask, cut = window_masks(
            batch, trajectories, [self._windows[id(t)][0] for t in trajectories],
            [self.is_finished(t) for t in trajectories], self.runner.window)
        value_mask = value_mask * (batch.loss_mask > 0)  # what mask_truncated dropped stays dropped
        batch.loss_mask = batch.loss_mask * in_window
        batch.extras["value_mask"] = value_mask
        batch.extras["critic_mask"] = torch.maximum(batch.loss_mask, value_mask)
        batch.extras["window_truncated"] = cut
        batch.truncated = batch.truncated | cut
        return batch

    def critic_mask(self, micro: TokenBatch) -> torch.Tensor:
        return micro.extras["critic_mask"]

    def value_mask(self, micro: TokenBatch) -> torch.Tensor:
        return micro.extras["value_mask"]

    # ------------------------------------------------------------------ 4. advantages

    def compute_advantages(self, batch: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Extended GAE (`tppo_advantages`) with the critic's values from before the update."""
        cfg = self.config
        assert batch.values is not None
        return tppo_advantages(batch.token_rewards, batch.values, batch.loss_mask, batch.extras["value_mask"],
                               batch.extras["window_truncated"], cfg.gamma, cfg.lam, cfg.whiten_advantages)

    # ------------------------------------------------------------------ 5. loss normalization

    def loss_counts(self, mb: TokenBatch | None, totals: tuple[float, float] | None = None) -> dict[str, float]:
        """The policy loss's counts (this window's tokens), and the value loss's own: the minibatch's
        finished-response tokens (or rows), so micro-batching gives the same value update."""
        counts = super().loss_counts(mb, totals)
        vm = mb.extras["value_mask"] if mb is not None else None
        tokens = float(vm.sum()) if vm is not None else 0.0
        seqs = float(int((vm.sum(-1) > 0).sum())) if vm is not None else 0.0
        if self.config.loss_agg == "token-mean":
            self._value_counts = {"num_tokens": max(tokens, 1.0)}
        else:
            self._value_counts = {**counts, "num_seqs": max(seqs, 1.0)}
        return counts

    def value_counts(self, counts: dict[str, float]) -> dict[str, float]:
        return self._value_counts or counts

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Also cancel the paused episodes and close their envs."""
        if self._runner is not None:
            self._runner.close()
            self._runner = None
        super().close()
