"""The `agentgym` command line: list envs, evaluate agents, train with RL, serve a local model, build sandboxes and indexes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _registered_env_id(name: str, remote: bool = False) -> str:
    """The full id of a registered env (or of a `remote:` one when `remote`), else a one-line CLI error."""
    import agentgym

    env_id = agentgym.registry.full_id(name)
    if env_id.startswith("remote:") and remote:
        return env_id
    if env_id.startswith("remote:") or env_id not in agentgym.list_envs():
        raise CLIError(f"unknown environment {name!r}; run `agentgym list` to see the registered ones")
    return env_id


def _parse_env_args(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CLIError(f"--env-arg expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def cmd_list(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import agentgym

    for env_id in agentgym.list_envs():
        entry = gym.registry[env_id].entry_point
        print(f"{env_id:<32} {entry if isinstance(entry, str) else getattr(entry, '__qualname__', entry)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import agentgym
    from agentgym.agents import make_agent
    from agentgym.eval import evaluate, format_summary

    env_kwargs = _parse_env_args(args.env_arg)
    env_id = _registered_env_id(args.env_id, remote=True)
    if args.k < 1 or args.episodes < 1 or args.concurrency < 1 or (args.vote is not None and args.vote < 2):
        raise CLIError("--episodes, --k and --concurrency must be >= 1, --vote >= 2")
    k = max(args.k, args.vote or 1)  # a vote over K needs K samples per task
    try:  # validate env arguments before loading a model or calling a server
        agentgym.make(env_id, **env_kwargs).close()
    except (TypeError, ValueError, RuntimeError) as e:  # RuntimeError: a remote env's server cannot be used
        raise CLIError(f"cannot create {env_id} with {env_kwargs}: {e}") from None
    agent_options = dict(base_url=args.base_url, api_key=args.api_key, temperature=args.temperature,
                         max_tokens=args.max_tokens, logprobs=args.logprobs or None)
    if args.ray_address is not None and not args.workers:
        raise CLIError("--ray-address needs --workers N")
    if args.workers:  # the agent is built in every Ray worker, not here
        agent = _rollout_pool(args, env_id, env_kwargs, agent_options)
    else:
        agent = make_agent(args.agent, **agent_options)
    if args.search is not None:
        agent = _search_agent(args, agent, env_id, env_kwargs)

    async def run() -> Any:
        try:
            return await evaluate(
                env_id, agent, episodes=args.episodes, k=k, concurrency=args.concurrency, out_dir=args.out,
                split=args.split, env_kwargs=env_kwargs, progress=not args.no_progress, seed=args.seed,
            )
        finally:
            await agent.aclose()

    summary = asyncio.run(run())
    print(format_summary(summary))
    if args.out:
        print(f"trajectories and summary.json written to {args.out}")
        print(f"open the report: {_view_hint(args.out)}")
    return 0


def _view_hint(*paths: str) -> str:
    from agentgym.viewer import view_command

    return view_command(paths)


def cmd_view(args: argparse.Namespace) -> int:
    """`agentgym view RUN_DIR ...`: write the runs' self-contained HTML report; `--serve`: serve it on loopback."""
    from agentgym.viewer import build_report, make_server
    from agentgym.viewer.build import report_url
    from agentgym.viewer.data import RunNotFoundError

    try:
        path = build_report(args.run_dirs, args.out, title=args.title)
    except RunNotFoundError as e:
        raise CLIError(str(e)) from None
    size = path.stat().st_size
    print(f"report written to {path} ({size / 1e6:.1f} MB); open it in a browser: file://{path.resolve()}", flush=True)
    if args.serve:
        server = make_server(path, port=args.port)
        print(f"serving {report_url(server, path)} (Ctrl-C to stop)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return 0


def _rollout_pool(args: argparse.Namespace, env_id: str, env_kwargs: dict[str, Any],
                  agent_options: dict[str, Any]) -> Any:
    """`--workers N`: a `RayRolloutPool` whose workers each build the agent from `--agent` and play the
    episodes (`--concurrency` of them per worker) on a local Ray instance or the cluster at `--ray-address`."""
    from agentgym.agents.spec import KINDS

    if args.workers < 1:
        raise CLIError(f"--workers must be >= 1, got {args.workers}")
    if args.search is not None:
        raise CLIError("--search runs in this process; it cannot be combined with --workers")
    if args.agent.partition(":")[0] not in KINDS:  # before starting Ray
        raise CLIError(f"bad agent spec {args.agent!r}: use openai:MODEL, litellm:PROVIDER/MODEL or hf:PATH_OR_GGUF")
    try:
        from agentgym.distributed import AgentPolicy, RayRolloutPool

        return RayRolloutPool(env_id, AgentPolicy(args.agent, {k: v for k, v in agent_options.items() if v is not None}),
                              args.workers, env_kwargs=env_kwargs, address=args.ray_address,
                              concurrency=args.concurrency)
    except ImportError as e:
        raise CLIError(str(e)) from None
    except ConnectionError as e:
        raise CLIError(f"cannot join the Ray cluster at {args.ray_address}: {e}") from None


def _search_agent(args: argparse.Namespace, policy: Any, env_id: str, env_kwargs: dict[str, Any]) -> Any:
    """`--search best-first`: the policy wrapped in a `TreeSearchAgent` over fresh instances of the env."""
    import agentgym
    from agentgym.agents import make_agent
    from agentgym.search_agents import TreeSearchAgent

    if args.search != "best-first":
        raise CLIError(f"unknown --search {args.search!r}; the choice is best-first")
    for flag, value in (("--search-depth", args.search_depth), ("--search-branching", args.search_branching),
                        ("--search-budget", args.search_budget), ("--value-samples", args.value_samples)):
        if value < 1:
            raise CLIError(f"{flag} must be >= 1, got {value}")
    judge: Any = policy
    if args.value_agent:  # the judge samples at the policy's temperature unless told otherwise
        judge = make_agent(args.value_agent, base_url=args.value_base_url or args.base_url,
                           api_key=args.value_api_key or args.api_key,
                           temperature=args.value_temperature if args.value_temperature is not None
                           else args.temperature, max_tokens=args.max_tokens)
    return TreeSearchAgent(policy, lambda: agentgym.make(env_id, **env_kwargs), judge,
                           max_depth=args.search_depth, branching=args.search_branching, budget=args.search_budget,
                           value_samples=args.value_samples)


def cmd_serve_model(args: argparse.Namespace) -> int:
    from agentgym.models.loading import ModelNotFoundError, resolve_model
    from agentgym.server.app import serve

    spec = args.model.removeprefix("hf:")
    for flag, value, least in (("--lanes", args.lanes, 1), ("--default-max-tokens", args.default_max_tokens, 1),
                               ("--max-model-len", args.max_model_len, 2), ("--request-timeout", args.request_timeout, 0)):
        if value is not None and value < least:  # before minutes of model loading
            raise CLIError(f"{flag} must be at least {least}, got {value}")
    try:
        resolve_model(spec)
    except ModelNotFoundError as e:
        raise CLIError(str(e)) from None
    print(f"serving {spec} as {args.name or spec} on http://{args.host}:{args.port}/v1", flush=True)
    serve(spec, host=args.host, port=args.port, name=args.name or spec, seed=args.seed,
          max_batch_size=args.max_batch_size, max_model_len=args.max_model_len, lanes=args.lanes,
          request_timeout=args.request_timeout or None, default_max_tokens=args.default_max_tokens)
    return 0


def cmd_serve_env(args: argparse.Namespace) -> int:
    """`agentgym serve-env ENV_ID`: host episodes of one env over HTTP for `remote:` clients."""
    import agentgym

    try:
        from agentgym.remote.server import serve_env
    except ImportError as e:
        raise CLIError(f"serving envs needs the serve extra (pip install 'agentgym[serve]'): {e}") from None
    env_kwargs = _parse_env_args(args.env_arg)
    env_id = _registered_env_id(args.env_id)
    if args.max_episodes < 1 or args.idle_timeout < 0:
        raise CLIError("--max-episodes must be >= 1 and --idle-timeout >= 0 (0: never evict)")
    try:  # the same check as eval's, before the socket opens
        agentgym.make(env_id, **env_kwargs).close()
    except (TypeError, ValueError) as e:
        raise CLIError(f"cannot create {env_id} with {env_kwargs}: {e}") from None
    url = f"remote:http://{args.host}:{args.port}/{env_id}"
    serve_env(env_id, env_kwargs, host=args.host, port=args.port, max_episodes=args.max_episodes,
              idle_timeout=args.idle_timeout or None,
              on_ready=lambda: print(f"serving {env_id} (max {args.max_episodes} episodes); clients: "
                                     f"agentgym.make({url!r})", flush=True))
    return 0


def cmd_sandbox_build_image(args: argparse.Namespace) -> int:
    try:
        from agentgym.tools.python.image import build_sandbox_image
    except ImportError as e:
        raise CLIError(f"the Docker sandbox is not available: {e}") from None
    name = build_sandbox_image(name=args.name, force=args.force) if args.name else build_sandbox_image(force=args.force)
    print(f"sandbox image ready: {name}")
    return 0


def cmd_index_build(args: argparse.Namespace) -> int:
    try:
        from agentgym.tools.search.build import index_build_command
    except ImportError as e:
        raise CLIError(f"the search tools are not available: {e}") from None
    from pathlib import Path

    if not Path(args.corpus).is_file():
        raise CLIError(f"corpus file {args.corpus!r} not found")
    return index_build_command(args.corpus, args.out, dense=args.dense, model=args.model)


def cmd_train(args: argparse.Namespace) -> int:
    """`agentgym train CONFIG.yaml`: validate the run file, build the trainer, train, checkpoint."""
    try:
        from agentgym.trainers.config import ConfigError
        from agentgym.trainers.registry import build_trainer, check_model, load_run_spec, resolve_env
    except ImportError as e:
        raise CLIError(f"training needs the train extra (pip install 'agentgym[train]'): {e}") from None
    overrides = list(args.set)
    if args.output_dir is not None:
        overrides.append(f"output_dir={json.dumps(args.output_dir)}")  # a quoted YAML string, even for "123"
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    if args.resume:
        overrides.append("resume=true")
    try:  # trainer: cpt | sft is a supervised pass over a data file, not an RL run
        from agentgym.trainers.supervised_run import load_supervised_run, run_supervised

        supervised = load_supervised_run(args.config, overrides)
    except ConfigError as e:
        raise CLIError(f"{args.config}: {e}") from None
    if supervised is not None:
        try:
            run_supervised(supervised)
        except ConfigError as e:
            raise CLIError(f"{args.config}: {e}") from None
        return 0
    try:
        spec = load_run_spec(args.config, overrides)  # every field is checked here, before any model loads
        cfg = spec.config
        check_model(spec.model)
        env = resolve_env(spec.env, spec.env_kwargs)
        # under torchrun every rank runs this command; rank 0 speaks (the trainer joins the job itself)
        say = print if os.environ.get("RANK", "0") == "0" else (lambda *a, **k: None)
        world = int(os.environ.get("WORLD_SIZE", "1"))
        say(f"agentgym train: {spec.trainer} on {spec.env} with {spec.model}; {cfg.steps} steps of "
            f"{cfg.tasks_per_step} tasks x {cfg.group_size} episodes"
            + (f" on {world} data-parallel ranks" if world > 1 else "")
            + (f"; checkpoints in {cfg.output_dir}" if cfg.output_dir else ""), flush=True)
        trainer = build_trainer(spec, env=env)
    except ConfigError as e:
        raise CLIError(f"{args.config}: {e}") from None
    except ImportError as e:  # a sink or LoRA package that is not installed
        raise CLIError(str(e)) from None
    with trainer:
        if trainer.resumed_from is not None:
            say(f"resumed from {trainer.resumed_from} at step {trainer.step}", flush=True)
        trainer.train()
        if cfg.output_dir and not cfg.checkpoint_every:
            path = trainer.save_checkpoint()
            say(f"saved {path}")
        elif cfg.output_dir:
            say(f"checkpoints in {cfg.output_dir}")
    if cfg.output_dir:
        say(f"open the report: {_view_hint(cfg.output_dir)}")
    from agentgym.trainers.distributed import shutdown

    shutdown()  # leave the process group of a torchrun launch (a no-op otherwise)
    return 0


def cmd_policy_export(args: argparse.Namespace) -> int:
    """`agentgym policy export`: a generated domain's CPT text and oracle SFT conversations as JSONL."""
    from agentgym.envs.policy.generator import generate_domain
    from agentgym.envs.policy.internalization import export_domain

    if args.tasks < 1 or args.paraphrases < 0 or args.cases < 0:
        raise CLIError("--tasks must be >= 1, --paraphrases and --cases >= 0")
    domain = generate_domain(args.domain, env_level=args.env_level, task_level=args.task_level,
                             workflow_level=args.workflow_level, query_level=args.query_level, num_tasks=args.tasks,
                             seed=args.seed)
    summary = export_domain(domain, args.out, seed=args.seed, paraphrases=args.paraphrases, cases=args.cases,
                            drop_policy=not args.keep_policy, concurrency=args.concurrency)
    cpt, sft = summary["cpt"], summary["sft"]
    kinds = ", ".join(f"{k} {n}" for k, n in cpt["by_kind"].items())
    categories = ", ".join(f"{k} {n}" for k, n in cpt["by_category"].items())
    print(f"{domain.name}: {cpt['records']} CPT records ({kinds}; {categories}) -> {args.out}/cpt.jsonl")
    print(f"{sft['conversations']}/{sft['tasks']} successful oracle conversations"
          f"{' (policy dropped)' if not args.keep_policy else ''} -> {args.out}/sft.jsonl; counts in summary.json")
    return 0


def cmd_demos(args: argparse.Namespace) -> int:
    """`agentgym demos ENV`: play the env's oracle on training tasks; write the successes as chat SFT records."""
    from pathlib import Path

    import agentgym
    from agentgym.oracles import NoOracleError, oracle_demonstrations, sft_rows

    if args.episodes < 1:
        raise CLIError("--episodes must be >= 1")
    env_id = _registered_env_id(args.env_id)
    try:
        env = agentgym.make(env_id, **_parse_env_args(args.env_arg))
    except (TypeError, ValueError) as e:
        raise CLIError(f"cannot create {env_id}: {e}") from None
    try:  # an env without an oracle says so first, whatever its splits
        ids = env.unwrapped.tasks.ids(args.split)
        trajs = oracle_demonstrations(env, ids[args.skip:args.skip + args.episodes], progress=not args.no_progress)
        if not ids:
            raise CLIError(f"{env_id} has no {args.split!r} tasks")
    except NoOracleError as e:
        raise CLIError(str(e)) from None
    finally:
        env.close()
    rows = sft_rows(trajs, env_id)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    solved = sum(t.success for t in trajs)
    print(f"{env_id}: the oracle solved {solved}/{len(trajs)} {args.split} tasks -> {len(rows)} SFT records in {out} "
          "(train on them with a `trainer: sft` run file, `data:` this file)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentgym", description="Environments, agents and trainers for LLM agents.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered environments")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("eval", help="evaluate an agent on an environment")
    p.add_argument("env_id", help="e.g. Arithmetic-v0 or agentgym/Arithmetic-v0")
    p.add_argument("--agent", required=True, help="openai:MODEL | litellm:PROVIDER/MODEL | hf:PATH_OR_GGUF")
    p.add_argument("--episodes", type=int, default=10, help="number of tasks")
    p.add_argument("--k", type=int, default=1, help="samples per task (pass@k, pass^k, and maj@k for k > 1)")
    p.add_argument("--vote", type=int, default=None, metavar="K",
                   help="majority vote over K samples per task (maj@K: the most common answer's success)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", default=None, help="folder for trajectories.jsonl and summary.json (resumable)")
    p.add_argument("--split", default=None)
    p.add_argument("--base-url", default=None, help="OpenAI-compatible server URL")
    p.add_argument("--api-key", default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--logprobs", action="store_true", help="request token log-probs from API agents")
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--workers", type=int, default=0,
                   help="play the episodes on N Ray rollout workers (--concurrency episodes each); 0: in this process")
    p.add_argument("--ray-address", default=None,
                   help="join this Ray cluster (auto, HOST:PORT, ray://HOST:PORT); default: a local Ray instance")
    p.add_argument("--search", default=None, choices=["best-first"],
                   help="search at every step before acting (Koh et al. 2024 best-first tree search; the env must "
                        "replay deterministically)")
    p.add_argument("--search-depth", type=int, default=5, help="longest action path explored per step (d)")
    p.add_argument("--search-branching", type=int, default=5, help="actions kept per expansion (b; 2b sampled)")
    p.add_argument("--search-budget", type=int, default=20, help="value computations per step (c)")
    p.add_argument("--value-agent", default=None, help="the value-function judge's agent spec (default: --agent)")
    p.add_argument("--value-samples", type=int, default=20, help="judgements per state (n)")
    p.add_argument("--value-base-url", default=None, help="the judge's server URL (default: --base-url)")
    p.add_argument("--value-api-key", default=None)
    p.add_argument("--value-temperature", type=float, default=None, help="the judge's temperature")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("train", help="train a model with RL (or cpt / sft on a data file) from a YAML run file")
    p.add_argument("config", help="YAML run file: trainer, model, env, env_kwargs and config fields "
                                  "(trainer: cpt | sft: model, data and the pass's fields)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field (value parsed as YAML; env_kwargs.NAME=VALUE for env arguments)")
    p.add_argument("--output-dir", default=None, help="checkpoints and logs (same as --set output_dir=...)")
    p.add_argument("--steps", type=int, default=None, help="total training steps (same as --set steps=N)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the output dir")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("view", help="write an HTML report of eval / training runs (transcripts, curves, comparison)")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="an eval --out folder or a training output_dir; two or more to compare them side by side")
    p.add_argument("--out", default=None, help="the HTML file (default: RUN_DIR/report.html of the first run)")
    p.add_argument("--title", default=None)
    p.add_argument("--serve", action="store_true", help="also serve the report on http://127.0.0.1:PORT")
    p.add_argument("--port", type=int, default=8765, help="port for --serve (0: any free port)")
    p.set_defaults(func=cmd_view)

    p = sub.add_parser("policy", help="policy-document domains (PolicyDoc-v0)")
    psub = p.add_subparsers(dest="policy_command", required=True)
    b = psub.add_parser("export", help="export a generated domain's policy-internalization data (CPT text, SFT)")
    b.add_argument("--domain", default="retail", help="retail | airline | bank | clinic | mixed")
    for dial in ("env", "task", "workflow", "query"):
        b.add_argument(f"--{dial}-level", type=int, default=1, help=f"the generator's {dial} dial, 1-4")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--tasks", type=int, default=20, help="tasks to generate and play with the oracle")
    b.add_argument("--paraphrases", type=int, default=3, help="paraphrases per rule")
    b.add_argument("--cases", type=int, default=4, help="questions over database records per request kind")
    b.add_argument("--keep-policy", action="store_true", help="keep the policy in the SFT system prompts")
    b.add_argument("--concurrency", type=int, default=4)
    b.add_argument("--out", required=True, help="folder for cpt.jsonl, sft.jsonl and summary.json")
    b.set_defaults(func=cmd_policy_export)

    p = sub.add_parser("demos", help="oracle demonstrations of an env's tasks as chat SFT records (warm starts)")
    p.add_argument("env_id", help="an env with an oracle: MultiHopQA-v0, MathPython-v0, Arithmetic-v0 and their "
                                  "TAPO / EAPO versions")
    p.add_argument("--out", required=True, help="the JSONL file to write ({\"messages\": [...]} per record)")
    p.add_argument("--episodes", type=int, default=100, help="tasks to play")
    p.add_argument("--split", default="train")
    p.add_argument("--skip", type=int, default=0, help="start at this task of the split")
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demos)

    p = sub.add_parser("serve-model", help="serve a local model through an OpenAI-compatible API")
    p.add_argument("model", help="hf:PATH_OR_GGUF or hf:smollm2")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--name", default=None, help="model id clients use (default: the spec)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-batch-size", type=int, default=16)
    p.add_argument("--max-model-len", type=int, default=None,
                   help="context window to enforce, prompt + completion (default: the model config's)")
    p.add_argument("--lanes", type=int, default=2,
                   help="batches decoding at once, so short requests are answered while a long one runs")
    p.add_argument("--request-timeout", type=float, default=300.0,
                   help="seconds one request may decode before it is cut (finish_reason length); 0: no limit")
    p.add_argument("--default-max-tokens", type=int, default=512, help="completion length when a request sets none")
    p.set_defaults(func=cmd_serve_model)

    p = sub.add_parser("serve-env", help="serve episodes of an environment over HTTP (clients: remote:URL)")
    p.add_argument("env_id", help="e.g. Arithmetic-v0")
    p.add_argument("--env-arg", action="append", default=[], metavar="KEY=VALUE", help="env constructor argument")
    p.add_argument("--port", type=int, default=8100)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--max-episodes", type=int, default=1024, help="episodes held at once; more are refused (503)")
    p.add_argument("--idle-timeout", type=float, default=600.0,
                   help="seconds after which an untouched episode is evicted; 0: never")
    p.set_defaults(func=cmd_serve_env)

    p = sub.add_parser("sandbox", help="Python sandbox utilities")
    ssub = p.add_subparsers(dest="sandbox_command", required=True)
    b = ssub.add_parser("build-image", help="build the Docker sandbox image (offline with debootstrap if needed)")
    b.add_argument("--name", default=None)
    b.add_argument("--force", action="store_true")
    b.set_defaults(func=cmd_sandbox_build_image)

    p = sub.add_parser("index", help="search index utilities")
    isub = p.add_subparsers(dest="index_command", required=True)
    b = isub.add_parser("build", help="build a BM25 index from a JSONL corpus (id, title, text)")
    b.add_argument("corpus")
    b.add_argument("--out", required=True)
    b.add_argument("--dense", action="store_true", help="also build a sentence-transformers dense index")
    b.add_argument("--model", default=None, help="embedding model folder (default: the packaged MiniLM)")
    b.set_defaults(func=cmd_index_build)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `agentgym` console script."""
    from agentgym.agents.base import AgentError
    from agentgym.registry import EnvNotFoundError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("agentgym: interrupted; rerun the same command (same --out) to resume", file=sys.stderr)
        return 130
    except (CLIError, AgentError, EnvNotFoundError, FileNotFoundError, ValueError, KeyError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"agentgym: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
