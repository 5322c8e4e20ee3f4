"""`RexRagTrainer`: REX-RAG (Jiang et al. 2025, arXiv 2508.08149), GRPO with probe sampling and the mixture
policy correction. The formulas are pure functions in `algorithms/rexrag.py`; this file plays the probes.

One step, read top to bottom:

    rollout   `tasks_per_step` x `group_size` episodes, as GRPO
    probes    each failed episode (the env ended it, not successful) is probed with probability
              `probe_prob`: `probe_candidates` clones, each cut before its final answer (the last turn's
              generated ids up to the first match of `answer_pattern`; no match: the whole last turn),
              a revision prompt drawn uniformly from the pool appended (its tokens *inserted*: recorded in
              the next turn's `context_ids`, so loss mask 0), and pi_old's log-probs of the inserted tokens
              scored in one batched pass
    filter    per group, the `probe_keep` candidates whose inserted prompt has the highest mean old log-prob
    continue  the engine generates from the exact token prefix (recorded ids + kept ids + inserted ids); the
              env is replayed to the cut (a fresh env of the same task, the recorded actions stepped again,
              each observation checked against the recorded one) and the episode goes on through the env
              from the new turn, as the episode loop would
    batch     probes join their task's group (GRPO advantages over originals and probes); alpha = probes /
              all trajectories; log pi_mix = log((1 - alpha) pi_old + alpha mu) on inserted tokens, log pi_old
              elsewhere; `correction="trajectory"` weights each probe's advantages by
              prod_inserted pi_old / pi_mix, `"token"` only changes the ratio on inserted tokens (which train
              only with `train_inserted`), `"none"` is GRPO on the mixed batch
    loss      PPO clip with rho = pi_theta / pi_mix (`policy_loss="rexrag"`)

A probe's final turn is stored as two turns: the kept part of the original generation (reward 0, no
observation) and the continuation, whose `context_ids` end with the inserted ids (`Trajectory.info["rexrag"]`
says how many) and whose assistant message is the whole action the env was stepped with. Only originals are
probed (never a probe), as in the authors' code. Single process only (no data parallelism, no Ray rollout
workers: probes are played by this process's engine).

Start it in five lines::

    from agentgym.trainers import RexRagConfig, RexRagTrainer
    trainer = RexRagTrainer("smollm2", "MultiHopQA-v0", env_kwargs={"hops": 2}, config=RexRagConfig(steps=40))
    trainer.train()
    print(trainer.evaluate(n=100))
"""

from __future__ import annotations

import asyncio
import copy
import random
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import torch
from agentgym.trainers.algorithms.rexrag import (
    PromptPool,
    inserted_weights,
    mixture_logprobs,
    probe_share,
    select_probes,
)
from agentgym.trainers.base import Rollout
from agentgym.trainers.config import GRPOConfig, RLConfig, UnsupportedSetup
from agentgym.trainers.data import SequenceView, TokenBatch, collate
from agentgym.trainers.episodes import engine_policy
from agentgym.trainers.grpo import GRPOTrainer
from agentgym.trainers.shapers import Group

from agentgym.agents.base import AgentOutput, ContextWindowExceeded
from agentgym.episode import play_turns
from agentgym.models.chat_template import assistant_message, prepare_messages
from agentgym.trajectory import Trajectory, Turn

__all__ = ["PROBE_INFO", "REVISION_PROMPTS", "RexRagConfig", "RexRagTrainer", "cut_before_answer"]

#: `Trajectory.info` key of a probe's record (its source episode, prompt, inserted-token log-probs)
PROBE_INFO = "rexrag"

#: the default revision-prompt pool: first-person doubts that reopen the reasoning (our own wording, in the
#: spirit of the authors' `search_r1/llm_agent/thinking_prompts.py`, which opens each with `<think>`)
REVISION_PROMPTS: tuple[str, ...] = (
    "<think> Wait, I may have missed a fact or made a wrong step; let me check again.",
    "<think> Hold on, my reasoning might have a gap. I should look at this once more.",
    "<think> I am not sure this is right; some evidence could be missing.",
    "<think> Let me reconsider: I may have misread something important.",
    "<think> Before answering, I should double-check what I found so far.",
    "<think> Maybe my earlier step was wrong, or I skipped a key detail.",
    "<think> Something may be off in my logic; I will search or reason again.",
    "<think> I might have trusted the wrong clue; let me verify it.",
)

CORRECTIONS = ("trajectory", "token", "none")


@dataclass
class RexRagConfig(GRPOConfig):
    """REX-RAG on top of GRPO.

    `probe_prob` (p): chance that a failed episode is probed. `probe_candidates`: probes drawn per probed
    episode (each with its own prompt). `probe_keep`: per group, keep at most this many probes, those whose
    inserted prompt has the highest mean old log-prob (null: keep all). `revision_prompts`: the pool (null:
    `REVISION_PROMPTS`). `answer_pattern`: a regex; the last turn's generation is cut where it first matches
    (no match: the whole last turn is cut). `correction`: "trajectory" (probe advantages weighted by
    prod_inserted pi_old / pi_mix; the ratio uses pi_mix), "token" (the ratio uses pi_mix on each token),
    "none". `train_inserted`: put the inserted tokens in the loss (the authors' code does; the issue and
    the default do not).
    """

    probe_prob: float = 0.5
    probe_candidates: int = 1
    probe_keep: int | None = None
    revision_prompts: list[str] | None = None
    answer_pattern: str = r"<answer>"
    correction: str = "trajectory"
    train_inserted: bool = False
    policy_loss: str = "rexrag"

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.probe_prob <= 1:
            self._fail("probe_prob", "must be in [0, 1]")
        if self.probe_candidates < 1:
            self._fail("probe_candidates", "must be >= 1")
        if self.probe_keep is not None and self.probe_keep < 1:
            self._fail("probe_keep", "must be >= 1 (or null to keep every probe)")
        if self.revision_prompts is not None and not [p for p in self.revision_prompts if p]:
            self._fail("revision_prompts", "must hold at least one non-empty prompt (or be null for the default)")
        try:
            re.compile(self.answer_pattern)
        except re.error as e:
            self._fail("answer_pattern", f"is not a valid regular expression ({e})")
        self._choice("correction", CORRECTIONS)
        if self.train_inserted and self.correction == "trajectory":
            self._fail("train_inserted", "needs correction 'token' (or 'none'): with 'trajectory' the inserted "
                                         "tokens' ratio would count twice")


def cut_before_answer(tokenizer: Any, ids: list[int], pattern: str) -> int:
    """How many of a turn's generated `ids` come before its answer: the longest prefix whose decoded text
    ends at or before the first match of `pattern` in the decoded turn (0 without a match: the whole turn
    is cut). Only decodes; nothing is re-tokenized."""
    text = tokenizer.decode(ids, skip_special_tokens=False)
    match = re.search(pattern, text)
    if match is None:
        return 0
    lo, hi = 0, len(ids)  # largest n with len(decode(ids[:n])) <= match.start()
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(tokenizer.decode(ids[:mid], skip_special_tokens=False)) <= match.start():
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class _Candidate:
    """A probe before its continuation: the source episode, the cut, the inserted prompt and its scores."""

    source: Trajectory
    group: int
    kept: list[int]
    prompt_index: int
    inserted: list[int]
    context: list[int]  # the recorded ids of the last context before the last turn's generation
    old_logprobs: list[float] = field(default_factory=list)
    mu_logprobs: list[float] = field(default_factory=list)

    @property
    def mean_old_logprob(self) -> float:
        return sum(self.old_logprobs) / max(len(self.old_logprobs), 1)


class RexRagTrainer(GRPOTrainer):
    """REX-RAG: GRPO with probe sampling, the probe filter and the mixture policy correction (module docstring)."""

    config_class: ClassVar[type[RLConfig]] = RexRagConfig
    name: ClassVar[str] = "rexrag"
    config: RexRagConfig

    def setup_models(self) -> None:
        if self.dp.is_distributed:
            raise UnsupportedSetup("RexRagTrainer runs in one process (it plays its probes itself): launch it without torchrun")
        if self.rollout_pool is not None:
            raise UnsupportedSetup("RexRagTrainer plays its rollouts in this process: use rollout_workers=0")
        cfg = self.config
        self.prompt_texts = list(cfg.revision_prompts or REVISION_PROMPTS)
        self.prompt_ids = [list(self.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in self.prompt_texts]
        self.pool = PromptPool(self.prompt_ids)
        self.probe_rng = random.Random(cfg.seed + 7919)
        self.alpha = 0.0

    def extra_state(self) -> dict[str, Any]:
        return {"probe_rng": self.probe_rng.getstate()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "probe_rng" in state:
            self.probe_rng.setstate(state["probe_rng"])

    # ------------------------------------------------------------------ 1. rollout + probes

    async def acollect(self) -> Rollout:
        """GRPO's groups, then probes of their failed episodes added to the groups they came from."""
        rollout = await super().acollect()
        groups = rollout.groups
        candidates = self.probe_candidates(groups)
        self.score_inserted(candidates)
        kept = [candidates[i] for i in select_probes([c.mean_old_logprob for c in candidates],
                                                     [c.group for c in candidates], self.config.probe_keep)]
        probes = await self.play_probes(kept)
        new_groups = [Group(g.task_id, list(g.trajectories), g.size) for g in groups]
        for cand, probe in zip(kept, probes, strict=True):
            if probe is not None:
                new_groups[cand.group].trajectories.append(probe)
        played = [p for p in probes if p is not None]
        flags = [PROBE_INFO in t.info for g in new_groups for t in g.trajectories]
        self.alpha = probe_share(flags)
        stats = {**rollout.stats, "probe_candidates": float(len(candidates)), "probes": float(len(played)),
                 "probes_dropped": float(len(kept) - len(played)), "probe_alpha": self.alpha,
                 "probe_success": sum(float(p.success) for p in played) / max(len(played), 1)}
        return Rollout(new_groups, rollout.sampled, stats)

    def is_failure(self, traj: Trajectory) -> bool:
        """An episode the env ended without success, whose last turn was played by a token-level policy."""
        return (traj.error is None and traj.terminated and not traj.success and bool(traj.turns)
                and traj.turns[-1].token_ids is not None and traj.turns[-1].context_ids is not None
                and PROBE_INFO not in traj.info)

    def probe_candidates(self, groups: list[Group]) -> list[_Candidate]:
        """Each failed episode, with probability `probe_prob`, gives `probe_candidates` cut-and-prompted clones."""
        cfg = self.config
        out = []
        for g, group in enumerate(groups):
            for traj in group.trajectories:
                if not self.is_failure(traj) or self.probe_rng.random() >= cfg.probe_prob:
                    continue
                last = traj.turns[-1]
                gen = list(last.token_ids or [])
                n_kept = cut_before_answer(self.tokenizer, gen, cfg.answer_pattern)
                context: list[int] = []
                for turn in traj.contexts()[-1][:-1]:
                    context += list(turn.context_ids or []) + list(turn.token_ids or [])
                context += list(last.context_ids or [])
                for _ in range(cfg.probe_candidates):
                    k = self.probe_rng.randrange(len(self.prompt_ids))
                    out.append(_Candidate(traj, g, gen[:n_kept], k, list(self.prompt_ids[k]), context))
        return out

    @torch.no_grad()
    def score_inserted(self, candidates: list[_Candidate]) -> None:
        """pi_old's log-probs of each candidate's inserted tokens (one batched pass over context + kept +
        inserted, the inserted tokens as the scored positions) and mu's, from the prompt pool."""
        if not candidates:
            return
        views = []
        for c in candidates:
            ids = c.context + c.kept + c.inserted
            mask = [0] * (len(ids) - len(c.inserted)) + [1] * len(c.inserted)
            views.append(SequenceView(ids, mask, [0.0] * len(ids), [-1] * len(ids), [], [], len(c.context)))
        batch = collate(views, list(range(len(views))), int(self.tokenizer.pad_token_id or 0))
        cfg = self.config
        from agentgym.trainers.modeling import score_tokens

        scores = self.score_rows(batch, lambda m: score_tokens(self.model, m.input_ids, m.attention_mask,
                                                               m.loss_mask, cfg.temperature, bf16=cfg.bf16).logprobs)
        for i, c in enumerate(candidates):
            n = len(c.context) + len(c.kept)
            c.old_logprobs = scores[i, n: n + len(c.inserted)].tolist()
            c.mu_logprobs = self.pool.logprobs(c.inserted)

    async def play_probes(self, candidates: list[_Candidate]) -> list[Trajectory | None]:
        """Continue every kept candidate through a fresh env of its task, `concurrency` at a time."""
        results: list[Trajectory | None] = [None] * len(candidates)
        if not candidates:
            return results
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(candidates)):
            queue.put_nowait(i)
        n_workers = max(1, min(self.config.concurrency, len(candidates)))
        while len(self._envs) < n_workers:  # the rollout's env pool (idle now) plays the probes
            self._envs.append(self.make_env())

        async def worker(env: Any) -> None:
            while not queue.empty():
                i = queue.get_nowait()
                results[i] = await self.play_probe(env, candidates[i], i)

        await asyncio.gather(*(worker(self._envs[w]) for w in range(n_workers)))
        return results

    async def play_probe(self, env: Any, cand: _Candidate, index: int) -> Trajectory | None:
        """One probe: replay the source episode's env to its last turn, generate from the exact prefix
        (recorded ids + kept ids + inserted ids), and play on through the env. None when the env does not
        replay to the recorded observations (or the prefix leaves no room to generate)."""
        cfg, src = self.config, cand.source
        k = len(src.turns) - 1
        messages, info = await env.areset(options={"task_id": src.task_id})
        for turn in src.turns[:k]:
            obs, _, terminated, truncated, _ = await env.astep(turn.assistant)
            if terminated or truncated or [dict(m) for m in obs] != turn.observation:
                return None
        tools = info.get("tools") if info.get("protocol") == "native" else None
        agent = engine_policy(self.engine, self._params(), cfg.max_length)
        session = agent.start_episode(messages, tools=tools, stop=tuple(info.get("stop") or ()))
        history = src.turn_prompt(k)  # the session's state at the last turn, set from the records
        session.history = prepare_messages(history, tools) if tools else [dict(m) for m in history]
        prompt = cand.context + cand.kept + cand.inserted
        try:
            budget = agent.completion_budget(len(prompt))
        except ContextWindowExceeded:
            return None
        gen = await self.engine.generate(prompt, replace(agent.params, max_new_tokens=budget, stop=session.stop))
        kept_text = self.tokenizer.decode(cand.kept, skip_special_tokens=True)
        text = kept_text + self.prompt_texts[cand.prompt_index] + gen.text
        message = assistant_message(text, tools)
        last = src.turns[-1]
        turns = [copy.deepcopy(t) for t in src.turns[:k]]
        if cand.kept:
            turns.append(Turn(assistant={"role": "assistant", "content": kept_text}, token_ids=list(cand.kept),
                              logprobs=list((last.logprobs or [0.0] * len(cand.kept))[:len(cand.kept)]),
                              context_ids=list(last.context_ids or []), completion_tokens=len(cand.kept)))
            context_ids = list(cand.inserted)
        else:
            context_ids = list(last.context_ids or []) + list(cand.inserted)
        traj = Trajectory(episode_id=f"{src.episode_id}/probe{index}", env_id=src.env_id, task_id=src.task_id,
                          agent_id=src.agent_id, sample_index=src.sample_index, messages=copy.deepcopy(src.messages),
                          turns=turns, task=src.task, started_at=src.started_at,
                          info={**{k_: v for k_, v in src.info.items() if k_ != PROBE_INFO},
                                PROBE_INFO: {"source": src.episode_id, "prompt": cand.prompt_index,
                                             "inserted_turn": len(turns), "inserted": len(cand.inserted),
                                             "old_logprobs": cand.old_logprobs, "mu_logprobs": cand.mu_logprobs}})
        out = AgentOutput(message=message, token_ids=list(gen.token_ids), logprobs=list(gen.logprobs),
                          prompt_tokens=len(prompt), completion_tokens=len(gen.token_ids),
                          finish_reason=gen.finish_reason, context_ids=context_ids)
        session.ids = list(prompt)
        session._text = text
        try:  # the rest of the episode through the one turn loop, starting from the continuation
            await play_turns(env, session, traj, first=out)
        except ContextWindowExceeded as e:
            traj.truncated, traj.truncation_reason = True, str(e)
        traj.reward = sum(t.reward for t in traj.turns)
        return traj

    # ------------------------------------------------------------------ 3. token batch

    def build_batch(self, trajectories: list[Trajectory]) -> TokenBatch:
        """GRPO's token view, plus REX-RAG's tensors in `extras`: `inserted_mask`, `mix_logprobs` (log pi_mix:
        the mixture on inserted tokens, log pi_old elsewhere) and `probe_weight` (B,)."""
        cfg = self.config
        batch = super().build_batch(trajectories)
        ins = torch.zeros_like(batch.loss_mask)
        mu = torch.zeros_like(batch.old_logprobs)
        assert batch.episode_index is not None
        seen: dict[int, int] = {}
        for row, e in enumerate(batch.episode_index.tolist()):
            context_no = seen.get(e, 0)
            seen[e] = context_no + 1
            meta = trajectories[e].info.get(PROBE_INFO)
            if not meta:
                continue
            span = inserted_span(trajectories[e], meta, context_no)
            if span is None:
                continue
            start, stop = span
            width = batch.input_ids.shape[1]
            n = max(0, min(stop, width) - start)
            if n <= 0:
                continue
            ins[row, start:start + n] = 1
            batch.old_logprobs[row, start:start + n] = torch.tensor(meta["old_logprobs"][:n])
            mu[row, start:start + n] = torch.tensor(meta["mu_logprobs"][:n])
        alpha = self.alpha if cfg.correction != "none" else 0.0
        mix = mixture_logprobs(batch.old_logprobs, mu, ins, alpha)
        batch.extras["inserted_mask"] = ins
        batch.extras["mix_logprobs"] = mix
        if cfg.correction == "trajectory":
            batch.extras["probe_weight"] = inserted_weights(batch.old_logprobs, mix, ins)
        if cfg.train_inserted:
            batch.loss_mask = torch.where(ins.bool(), torch.ones_like(batch.loss_mask), batch.loss_mask)
        return batch


def inserted_span(traj: Trajectory, meta: dict[str, Any], context_no: int) -> tuple[int, int] | None:
    """Where a probe's inserted ids sit in the row of its `context_no`-th token context: the last
    `meta["inserted"]` ids of the `context_ids` of turn `meta["inserted_turn"]` (None: not in this row)."""
    j, n = int(meta["inserted_turn"]), int(meta["inserted"])
    first = 0
    for c, turns in enumerate(traj.contexts()):
        if first <= j < first + len(turns):
            if c != context_no:
                return None
            pos = 0
            for t in turns[: j - first]:
                pos += len(t.context_ids or []) + len(t.token_ids or [])
            end = pos + len(turns[j - first].context_ids or [])
            return end - n, end
        first += len(turns)
    return None
