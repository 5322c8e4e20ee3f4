"""Search latency: index build, index load and query p50/p95 on a generated 100k-document corpus.

Ours is timed three ways: the index alone (`BM25Index.search`), the `search` tool call alone, and a whole
`env.step` of `agentgym/MultiHopQA`-style search (parse the `<search>` tag, dispatch, format results).
Next to it, in the same run and on the same corpus, tokens and queries: `rank_bm25` (pure-Python BM25Okapi)
and bm25s's own `retrieve` path. Ratios are printed against `rank_bm25`.

    python bench/search_latency.py [--docs 100000] [--queries 1000] [--peer-queries 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from agentgym.envs.search.env import SearchEnv
from agentgym.envs.search.kb import KBConfig, build_kb
from agentgym.envs.search.questions import make_question
from agentgym.tools.search import BM25Index, build_index, make_search_tool, write_corpus

from agentgym.state import EpisodeState
from agentgym.tasks import Task, TaskDataset


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def timed(fn, items) -> list[float]:
    out = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t0)
    return out


def row(name: str, times: list[float], ref: float | None) -> str:
    p50, p95 = pct(times, 50) * 1e3, pct(times, 95) * 1e3
    ratio = f"{ref / pct(times, 50):8.1f}x" if ref else "     1.0x"
    return f"  {name:<34} p50 {p50:9.3f} ms   p95 {p95:9.3f} ms   speed-up vs rank_bm25 {ratio}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--peer-queries", type=int, default=50, help="queries for rank_bm25 (about 0.1 s each)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.perf_counter()
    kb = build_kb(KBConfig(n_docs=args.docs, seed=args.seed))
    docs = kb.documents()
    print(f"corpus: {len(docs):,} generated documents ({time.perf_counter() - t0:.1f} s to generate)")
    rng = np.random.default_rng(args.seed)
    queries: list[str] = []
    while len(queries) < args.queries:  # what an agent sends: entity names hop by hop, and whole questions
        q = make_question(kb, rng, int(rng.integers(1, 5)))
        queries.extend(q.gold_titles)
        queries.append(q.question)
    queries = queries[: args.queries]

    with tempfile.TemporaryDirectory() as tmp:
        corpus_path, index_dir = Path(tmp) / "corpus.jsonl", Path(tmp) / "index"
        write_corpus(docs, corpus_path)
        summary = build_index(corpus_path, index_dir)
        gc.collect()
        t1 = time.perf_counter()
        index = BM25Index.load(index_dir)
        load_s = time.perf_counter() - t1
        size_mb = sum(f.stat().st_size for f in index_dir.iterdir()) / 1e6
        print(f"ours: build {summary['total_s']:.2f} s (read {summary['read_s']:.2f} s, BM25 {summary['bm25_s']:.2f} s), "
              f"load {load_s:.3f} s, {size_mb:.0f} MB on disk")

        for q in queries[:50]:  # warm caches
            index.search(q, 5)
        lib = timed(lambda q: index.search(q, 5), queries)

        tool = make_search_tool(index, k=3)
        state = EpisodeState(task=Task("bench", "bench"))
        loop = asyncio.new_event_loop()
        tool_times = timed(lambda q: loop.run_until_complete(tool.acall({"query": q}, {"state": state})), queries)
        loop.close()

        env = SearchEnv(TaskDataset([Task("bench", "bench question", ["x"])]), index, max_turns=10**9)
        env.reset(seed=0)
        step_times = timed(lambda q: env.step(f"<search>{q}</search>"), queries)
        env.close()

        import bm25s

        retriever = index.retriever
        analyzer = index.analyzer
        bm_queries = [[t for t in analyzer.query_terms(q) if t in index._vocab] or [""] for q in queries]
        native = timed(lambda toks: retriever.retrieve([toks], k=5, show_progress=False, n_threads=0), bm_queries)
        del bm25s

    from rank_bm25 import BM25Okapi

    t2 = time.perf_counter()
    corpus_tokens = [analyzer.terms(f"{d.title}\n{d.text}") for d in docs]
    peer = BM25Okapi(corpus_tokens)
    peer_build = time.perf_counter() - t2
    peer_q = [analyzer.query_terms(q) for q in queries[: args.peer_queries]]
    peer_times = timed(lambda toks: np.argpartition(-peer.get_scores(toks), 5)[:5], peer_q)
    ref = pct(peer_times, 50)

    print(f"rank_bm25: build {peer_build:.2f} s (tokenizing included, as in ours; {args.peer_queries} queries timed)")
    print(f"queries ({len(queries):,}; top-5, top-3 for the tool):")
    print(row("rank_bm25 BM25Okapi.get_scores", peer_times, None))
    print(row("bm25s retrieve (library path)", native, ref))
    print(row("ours: BM25Index.search", lib, ref))
    print(row("ours: search tool call", tool_times, ref))
    print(row("ours: env.step(<search>..</search>)", step_times, ref))
    print(f"build time ratio rank_bm25 / ours: {peer_build / summary['bm25_s']:.2f}; "
          f"index load {load_s:.3f} s (target < 2 s); tool-call p50 {statistics.median(tool_times) * 1e3:.3f} ms "
          f"(target <= 1 ms)")


if __name__ == "__main__":
    main()
