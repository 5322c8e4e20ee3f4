"""Search backends and tools: a local BM25 index, dense retrieval, rank fusion and remote JSON APIs.

    from agentgym.tools.search import build_index, load_index, make_search_tool
    build_index("corpus.jsonl", "index/")
    search = make_search_tool(load_index("index/"), k=3)

Heavy dependencies (bm25s, sentence-transformers) are imported only when a backend is built or loaded.
"""

from agentgym.tools.search.base import Document, SearchBackend, SearchError, SearchHit, SearchUnavailableError
from agentgym.tools.search.bm25 import BM25Index
from agentgym.tools.search.build import build_backend, build_index, index_build_command, load_index
from agentgym.tools.search.corpus import DocStore, read_corpus, write_corpus
from agentgym.tools.search.fusion import FusionBackend, reciprocal_rank_fusion
from agentgym.tools.search.http import HttpSearchBackend
from agentgym.tools.search.server import SearchServer
from agentgym.tools.search.tool import format_hits, make_open_tool, make_search_tool, query_problem

__all__ = [
    "BM25Index",
    "DocStore",
    "Document",
    "FusionBackend",
    "HttpSearchBackend",
    "SearchBackend",
    "SearchError",
    "SearchHit",
    "SearchServer",
    "SearchUnavailableError",
    "build_backend",
    "build_index",
    "format_hits",
    "index_build_command",
    "load_index",
    "make_open_tool",
    "make_search_tool",
    "query_problem",
    "read_corpus",
    "reciprocal_rank_fusion",
    "write_corpus",
]
