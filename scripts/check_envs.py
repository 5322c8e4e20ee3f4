"""Run Gymnasium's `check_env` on every registered env id matching a pattern, warnings as errors.

    python scripts/check_envs.py                       # every registered id (browser ids need Chromium)
    python scripts/check_envs.py --match miniwob.      # the MiniWoB++ ids only
    python scripts/check_envs.py --match thought_graph --out report.json

The test suite checks every non-browser id and one representative per browser env class; this script is the
exhaustive run (a few seconds per MiniWoB id). It prints one line per id, then a summary, and exits non-zero
if any id fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import warnings


def check(env_id: str) -> str | None:
    """None when `env_id` passes the checker, else the error."""
    from gymnasium.utils.env_checker import check_env

    import agentgym

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the one warning a wrapped env gets by design: agentgym.make returns wrappers (TAPO-*, EAPO-*)
        warnings.filterwarnings("ignore", message=".*is different from the unwrapped version")
        try:
            env = agentgym.make(env_id)
        except Exception as e:
            return f"make: {type(e).__name__}: {e}"
        try:
            check_env(env)
            # an env whose backend failed still passes the checker with episodes that end at once: not a pass
            _, info = env.reset(seed=0)
            if info.get("backend_crashed"):
                return f"the backend failed: {info['backend_crashed']}"
        except Exception as e:
            return f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
        finally:
            env.close()
    return None


def main() -> int:
    import agentgym

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--match", default="", help="check the ids containing this text")
    ap.add_argument("--out", help="write {id: error or null} as JSON here")
    a = ap.parse_args()
    ids = [i for i in agentgym.list_envs() if a.match in i]
    results: dict[str, str | None] = {}
    t0 = time.perf_counter()
    for n, env_id in enumerate(ids, 1):
        t = time.perf_counter()
        results[env_id] = check(env_id)
        status = "ok" if results[env_id] is None else "FAILED: " + results[env_id].splitlines()[0]
        print(f"[{n}/{len(ids)}] {env_id}: {status} ({time.perf_counter() - t:.1f} s)", flush=True)
    failed = [i for i, e in results.items() if e is not None]
    print(f"{len(ids) - len(failed)} of {len(ids)} ids pass check_env in {time.perf_counter() - t0:.0f} s")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
