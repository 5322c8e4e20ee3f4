"""The list-like Graph of Thoughts task families: scorers, decomposition, corruption, parsing, CSV files and
the programmatic reasoner's accuracy curve."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from agentgym.envs.thought_graph.reasoner import ProgrammaticReasoner
from agentgym.envs.thought_graph.task import ThoughtTask
from agentgym.envs.thought_graph.tasks import (
    TASK_FAMILIES,
    DocMergingTask,
    KeywordCountingTask,
    SetIntersectionTask,
    SortingTask,
    get_task,
)
from agentgym.envs.thought_graph.tasks.common import chunk

DATA = Path(__file__).resolve().parents[1] / "data" / "thought_graph"
FAMILIES = ["sorting", "set_intersection", "keyword_counting", "doc_merging"]
SIZES = [1, 2, 5, 16, 33]


def _task(name: str) -> ThoughtTask:
    return get_task(name)


# ---------------------------------------------------------------------- registry


def test_registry_names_and_unknown_family() -> None:
    assert isinstance(get_task("sorting"), SortingTask)
    assert isinstance(get_task("Set-Intersection"), SetIntersectionTask)
    assert set(FAMILIES) | {"humaneval"} <= set(TASK_FAMILIES)
    assert "humaneval" in TASK_FAMILIES
    with pytest.raises(ValueError, match="sorting") as err:
        get_task("juggling")
    assert "humaneval" in str(err.value) and "juggling" in str(err.value)


def test_chunk_is_contiguous_and_near_equal() -> None:
    assert chunk(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert chunk([1, 2], 5) == [[1], [2]]
    assert chunk([], 3) == [[]]
    assert chunk([4, 5], 0) == [[4, 5]]


# ---------------------------------------------------------------------- Graph of Thoughts' scorers by hand


def test_sorting_scorer_by_hand() -> None:
    t = SortingTask()
    assert t.errors([3, 1, 2], [1, 2, 3]) == 0
    assert t.errors([3, 1, 2], [1, 3, 2]) == 1  # one adjacent inversion
    assert t.errors([3, 1, 2], [1, 2]) == 1  # the 3 is missing
    assert t.errors([1, 1, 2], [1, 2, 2]) == 2  # one 1 too few, one 2 too many
    assert t.errors([3, 1, 2], [3, 2, 1, 1]) == 3  # an extra 1 and two inversions
    assert t.errors([3, 1, 2], "not a list") == 3
    assert t.baseline_errors([3, 1, 2]) == 1 and t.baseline_errors([1, 2]) == 1
    assert t.baseline_errors([5, 4, 3, 2]) == 3
    assert t.check([3, 1, 2], [1, 2, 3], [1, 2, 3]) and not t.check([3, 1, 2], [1, 3, 2], [1, 2, 3])


def test_set_intersection_scorer_by_hand() -> None:
    t = SetIntersectionTask()
    p = {"set1": [1, 2, 3, 4], "set2": [3, 4, 5]}
    assert t.exact(p) == [3, 4]
    assert t.errors(p, [3, 4]) == 0
    assert t.errors(p, [3, 5, 5]) == 3  # 4 missing, 5 extra, 5 repeated
    assert t.errors(p, []) == 2 == t.baseline_errors(p)
    assert t.check(p, [4, 3], [3, 4]) and not t.check(p, [3, 3, 4], [3, 4]) and not t.check(p, [3], [3, 4])
    assert t.baseline_errors({"set1": [1], "set2": [2]}) == 1


def test_keyword_counting_scorer_by_hand() -> None:
    t = KeywordCountingTask()
    p = {"text": "Peru and Chile. Later Peru again, then the United States. Chilean wine in Perugia."}
    assert t.exact(p) == {"Peru": 2, "Chile": 1, "United States": 1}  # whole words, multiword names
    assert t.errors(p, {"Peru": 1, "Chile": 1, "France": 2}) == 4  # Peru off by 1, US missing, France extra 2
    assert t.errors(p, {}) == 4 == t.size(p)
    assert t.check(p, {"Chile": 1, "United States": 1, "Peru": 2, "Spain": 0}, t.exact(p))
    assert not t.check(p, {"Peru": 2, "Chile": 1}, t.exact(p))
    only = {"text": "Peru, Chile and Spain.", "countries": ["Peru", "Chile"]}
    assert t.exact(only) == {"Peru": 1, "Chile": 1}


def test_doc_merging_scorer_by_hand() -> None:
    t = DocMergingTask()
    p = {"documents": ["1. The fee is $500.\n2. The term is two years.",
                       "a) the fee is $500\nb) Disputes go to court in Ohio."]}
    assert t.size(p) == 4 and t.baseline_errors(p) == 3
    gold = t.exact(p)
    assert gold == "The fee is $500.\nThe term is two years.\nDisputes go to court in Ohio."
    assert t.errors(p, gold) == 0 and t.check(p, gold, gold)
    # two facts missing, the fee stated twice, one invented sentence
    bad = "The fee is $500.\nthe fee is 500\nThe moon is made of cheese."
    assert t.errors(p, bad) == 4 and not t.check(p, bad, gold)
    assert t.retention(p, bad) == pytest.approx(1 / 3)
    assert t.redundancy(p, bad) == pytest.approx(1 / 3)
    assert t.f_score(p, bad) == pytest.approx(4 / 9)
    assert t.f_score(p, gold) == 1.0
    assert t.errors(p, None) == 3


# ---------------------------------------------------------------------- decomposition


@pytest.mark.parametrize("name", FAMILIES)
def test_merge_of_exact_parts_is_exact(name: str) -> None:
    t = _task(name)
    for size in SIZES:
        for seed in range(3):
            p = t.generate(np.random.default_rng(seed), size).problem
            for parts in (1, 2, 3, 4, 8):
                pieces = t.split(p, parts)
                assert 1 <= len(pieces) <= parts
                assert t.merge(p, [t.exact(q) for q in pieces]) == t.exact(p)
                assert t.join(p, pieces) == p
                assert t.exact(t.join(p, pieces[:1])) == t.exact(pieces[0])


def test_sorting_split_and_merge_keep_mistakes() -> None:
    t = SortingTask()
    assert t.split([5, 1, 4, 2, 3], 2) == [[5, 1, 4], [2, 3]]
    assert t.join([5, 1, 4, 2, 3], [[5, 1, 4], [2, 3]]) == [5, 1, 4, 2, 3]
    merged = t.merge([1, 3, 2, 0, 4], [[1, 3, 2], [0, 4]])
    assert merged == [0, 1, 3, 2, 4]  # the part's inversion survives the two-pointer merge
    assert t.errors([1, 3, 2, 0, 4], merged) == 1


def test_other_families_split_by_hand() -> None:
    s = SetIntersectionTask()
    p = {"set1": [1, 2], "set2": [2, 9, 1, 7, 5]}
    assert s.split(p, 2) == [{"set1": [1, 2], "set2": [2, 9, 1]}, {"set1": [1, 2], "set2": [7, 5]}]
    assert s.merge(p, [[2, 1], [1, 8]]) == [1, 2, 8]
    k = KeywordCountingTask()
    text = {"text": "Peru is far. Chile is long. Spain is warm.", "countries": ["Peru", "Chile", "Spain"]}
    assert [q["text"] for q in k.split(text, 2)] == ["Peru is far. Chile is long.", "Spain is warm."]
    assert all(q["countries"] == ["Peru", "Chile", "Spain"] for q in k.split(text, 2))
    assert k.merge(text, [{"Peru": 1, "Chile": 1}, {"Peru": 2}]) == {"Peru": 3, "Chile": 1}
    d = DocMergingTask()
    docs = {"documents": ["A is one.", "B is two.", "A is one."]}
    assert d.split(docs, 2) == [{"documents": ["A is one.", "B is two."]}, {"documents": ["A is one."]}]
    assert d.merge(docs, ["A is one.\nB is two.", "A is one.\nC is three and a half."]) == \
        "A is one.\nB is two.\nC is three and a half."


# ---------------------------------------------------------------------- corruption and generation


@pytest.mark.parametrize("name", FAMILIES)
def test_corrupt_always_adds_errors(name: str) -> None:
    t = _task(name)
    for size in (1, 2, 8, 24):
        for seed in range(40):
            p = t.generate(np.random.default_rng(seed), size).problem
            exact = t.exact(p)
            assert t.errors(p, exact) == 0
            rng = np.random.default_rng([seed, size])
            for mistakes in (1, 2, 3, 5):
                bad = t.corrupt(p, exact, mistakes, rng)
                assert t.errors(p, bad) > 0
                assert t.parse_solution(t.format_solution(bad)) == bad
            assert t.corrupt(p, exact, 0, rng) == exact


@pytest.mark.parametrize("name", FAMILIES)
def test_one_mistake_adds_about_one_error(name: str) -> None:
    t = _task(name)
    added = []
    for seed in range(100):
        p = t.generate(np.random.default_rng(seed), 20).problem
        added.append(t.errors(p, t.corrupt(p, t.exact(p), 1, np.random.default_rng(seed))))
    assert 1 <= np.mean(added) <= 2.5


@pytest.mark.parametrize("name", FAMILIES)
def test_generation_is_seeded_and_sized(name: str) -> None:
    t = _task(name)
    for size in (0, 3, 16, 40):
        a = t.generate(np.random.default_rng(7), size)
        b = t.generate(np.random.default_rng(7), size)
        assert a == b
        assert a.gold == t.exact(a.problem)
        assert t.size(a.problem) == (max(1, size) if name == "keyword_counting" else size)
    assert t.generate(np.random.default_rng(1), 16) != t.generate(np.random.default_rng(2), 16)


def test_generated_set_intersection_and_documents_look_like_got() -> None:
    p = SetIntersectionTask().generate(np.random.default_rng(0), 32).problem
    for key in ("set1", "set2"):
        assert len(set(p[key])) == 32 and all(0 <= v < 64 for v in p[key])
    docs = DocMergingTask().generate(np.random.default_rng(0), 32).problem["documents"]
    assert len(docs) == 4 and all(docs)
    d = DocMergingTask()
    assert d.baseline_errors({"documents": docs}) < d.size({"documents": docs})  # clauses overlap
    text = KeywordCountingTask().generate(np.random.default_rng(0), 16)
    assert sum(text.gold.values()) == 16 and max(text.gold.values()) >= 2


# ---------------------------------------------------------------------- parsing


def test_sorting_parse_tolerance() -> None:
    t = SortingTask()
    assert t.parse_solution("Output: [1, 2]") == [1, 2]
    assert t.parse_solution("The input [3, 1, 2] sorted is [1, 2, 3].") == [1, 2, 3]
    assert t.parse_solution("Input: [3, 1]\nOutput:\n[1, 3]\nHope this helps [x]") == [1, 3]
    assert t.parse_solution("Output: []") == []
    for junk in ("no list here", "[1, 2", "[a, b]", "", "Output:", "[[[", "{1: 2}", "[1.5, 2]"):
        assert t.parse_solution(junk) is None
    assert t.parse_solution(None) is None  # type: ignore[arg-type]


def test_dict_and_text_parse_tolerance() -> None:
    k = KeywordCountingTask()
    assert k.parse_solution('Output: {"Peru": 2, "United States": 1}') == {"Peru": 2, "United States": 1}
    assert k.parse_solution("Counts: {'Peru': 2}") == {"Peru": 2}
    assert k.parse_solution('{"Peru": 1}\n{"Chile": 1}\nOutput: {"Peru": 1, "Chile": 1}') == {"Peru": 1, "Chile": 1}
    assert k.parse_solution('{"Peru": 2, "Chile": "many"}') == {"Peru": 2}
    assert k.parse_solution("{Peru: 2, Chile: 3}") == {"Peru": 2, "Chile": 3}
    assert k.parse_solution("Output: {}") == {}
    assert k.parse_solution("none at all") is None and k.parse_solution('{"Peru": "x"}') is None
    d = DocMergingTask()
    assert d.parse_solution("Sure.\n<Merged>\nA is one.\nB is two.\n</Merged>\nDone.") == "A is one.\nB is two."
    assert d.parse_solution("<MERGED>A is one.") == "A is one."
    assert d.parse_solution("Output: A is one.") == "A is one."
    assert d.parse_solution("  \n") is None and d.parse_solution("Output:") is None
    assert d.parse_solution("<Merged></Merged>") == "" == d.parse_solution(d.format_solution(""))


@pytest.mark.parametrize("name", FAMILIES)
def test_nothing_raises_on_malformed_text(name: str) -> None:
    t = _task(name)
    p = t.generate(np.random.default_rng(0), 12).problem
    rng = np.random.default_rng(0)
    alphabet = list('[]{}(),:"\' 0123456789abcPeruChile\n-.<>/Merged')
    samples = ["", "[", "]", "{", "}", "{]", "[}", "Output:", "<Merged>", "[1, [2]]", '{"a": [1]}', "[1e400]",
               "{" * 50 + "}" * 50, "[" * 300 + "]" * 300]
    samples += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 80)))) for _ in range(300)]
    for text in samples:
        solution = t.parse_solution(text)
        if solution is not None:
            t.errors(p, solution)
            t.check(p, solution, t.exact(p))
        t.parse_parts(p, 2, text)


def test_parse_parts() -> None:
    s = SortingTask()
    p = [3, 1, 2, 9]
    assert s.parse_parts(p, 2, "[3, 1]\n[2, 9]") == [[3, 1], [2, 9]]
    assert s.parse_parts(p, 2, '{"List 1": [3, 1], "List 2": [2, 9]}') == [[3, 1], [2, 9]]
    assert s.parse_parts(p, 2, "Input: [3, 1, 2, 9]\nOutput:\n[3, 1]\n[2, 9]") == [[3, 1], [2, 9]]
    assert s.parse_parts(p, 2, "[3, 1]") is None  # too few
    assert s.parse_parts(p, 2, "[3, 12]\n[2, 9]") is None  # not digits
    si = SetIntersectionTask()
    sp = {"set1": [1, 2], "set2": [12, 2, 7]}
    assert si.parse_parts(sp, 2, "[12, 2]\n[7]") == [{"set1": [1, 2], "set2": [12, 2]}, {"set1": [1, 2], "set2": [7]}]
    k = KeywordCountingTask()
    kp = {"text": "Peru is far. Chile is long."}
    assert k.parse_parts(kp, 2, '{"Passage 1": "Peru is far.", "Passage 2": "Chile is long."}') == \
        [{"text": "Peru is far."}, {"text": "Chile is long."}]
    assert k.parse_parts(kp, 2, "Passage 1: Peru is far.\n\nPassage 2: Chile is long.") == \
        [{"text": "Peru is far."}, {"text": "Chile is long."}]
    assert k.parse_parts(kp, 2, "just one block") is None
    d = DocMergingTask()
    dp = {"documents": ["A.", "B.", "C.", "D."]}
    assert d.parse_parts(dp, 2, "[1, 2]\n[3, 4]") == [{"documents": ["A.", "B."]}, {"documents": ["C.", "D."]}]
    assert d.parse_parts(dp, 2, "[1, 2]\n[3, 5]") is None


@pytest.mark.parametrize("name", FAMILIES)
def test_prompts_show_the_problem(name: str) -> None:
    t = _task(name)
    p = t.generate(np.random.default_rng(3), 8).problem
    sol = t.exact(p)
    pieces = t.split(p, 2)
    for prompt in (t.statement(p), t.solve_prompt(p), t.refine_prompt(p, sol, 2.0), t.refine_prompt(p, sol, None),
                   t.aggregate_prompt(p, pieces, [t.exact(q) for q in pieces]), t.decompose_prompt(p, 2)):
        assert isinstance(prompt, str) and len(prompt) > 40
    assert len(t.summary(p)) < 120
    assert t.parse_solution(t.format_solution(sol)) == sol


# ---------------------------------------------------------------------- Graph of Thoughts' CSV files


def test_load_sorting_csv() -> None:
    t = SortingTask()
    rows = t.load_csv(DATA / "sorting.csv")
    assert [r.source_id for r in rows] == ["0", "1", "2"]
    assert rows[0].problem == [2, 9, 0] and rows[0].gold == [0, 2, 9]
    assert all(r.gold == t.exact(r.problem) for r in rows)


def test_load_set_intersection_csv() -> None:
    t = SetIntersectionTask()
    rows = t.load_csv(DATA / "set_intersection.csv")
    assert rows[0].problem == {"set1": [3, 7, 1, 6], "set2": [6, 0, 3, 2]} and rows[0].gold == [3, 6]
    assert rows[1].gold == []
    assert all(r.gold == t.exact(r.problem) for r in rows)


def test_load_countries_csv() -> None:
    t = KeywordCountingTask()
    rows = t.load_csv(DATA / "countries.csv")
    assert [r.source_id for r in rows] == ["0", "1", "2"]
    assert rows[0].gold == {"Canada": 2, "Mexico": 2}
    assert rows[1].gold == {"United States": 2, "South Africa": 1, "Japan": 1, "Peru": 1}
    assert rows[2].problem["countries"] == ["Canada", "Chile", "Japan", "Mexico", "Peru", "South Africa",
                                            "United States"]
    assert all(r.gold == t.exact(r.problem) for r in rows)  # "Chilean" and "Japanese" are not countries


def test_load_documents_csv() -> None:
    t = DocMergingTask()
    rows = t.load_csv(DATA / "documents.csv")
    assert [r.source_id for r in rows] == ["0", "1"]
    first = rows[0].problem["documents"]
    assert len(first) == 4 and first[0].startswith("SUPPLY AGREEMENT\n\n1. The Supplier delivers \"Grade A\"")
    assert rows[0].metadata["description"].startswith("Merging four documents")
    assert t.size(rows[0].problem) == 12 and t.baseline_errors(rows[0].problem) == 9
    assert rows[1].gold == ("The Tenant pays rent on the first day of each month.\n"
                            "Pets are not allowed in the apartment.\n"
                            "The Landlord repairs the heating within 48 hours of a complaint.")
    assert all(t.errors(r.problem, r.gold) == 0 for r in rows)


# ---------------------------------------------------------------------- the programmatic reasoner


def test_programmatic_reasoner_accuracy_falls_with_size() -> None:
    t = SortingTask()

    def solved(size: int) -> float:
        hits = 0
        for seed in range(200):
            inst = t.generate(np.random.default_rng(seed), size)
            reasoner = ProgrammaticReasoner(seed=0).fork(seed)
            out = asyncio.run(reasoner.solve(t, inst.problem, 1))[0]
            hits += t.check(inst.problem, out.solution, inst.gold)
        return hits / 200

    assert solved(8) > 0.6
    assert solved(64) < 0.1
