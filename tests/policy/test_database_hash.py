"""The database hash matches τ-bench's definition: key-sorted (key, value) tuples for dicts, tuples for lists,
sorted tuples for sets, then SHA-256 of `str()`. Expectations below are written out by hand."""

import hashlib
import random

from agentgym.envs.policy.database import consistent_hash, database_hash, to_hashable


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_canonical_form_by_hand():
    value = {"b": 1, "a": [1, {"d": 2, "c": 3}], "s": {3, 1, 2}}
    expected = (("a", (1, (("c", 3), ("d", 2)))), ("b", 1), ("s", (1, 2, 3)))
    assert to_hashable(value) == expected
    assert str(to_hashable(value)) == "(('a', (1, (('c', 3), ('d', 2)))), ('b', 1), ('s', (1, 2, 3)))"


def test_scalars_tuples_and_empties_pass_through():
    assert to_hashable(5) == 5 and to_hashable("x") == "x" and to_hashable(None) is None and to_hashable(1.5) == 1.5
    assert to_hashable((1, [2])) == (1, [2])  # τ-bench leaves tuples (and what is inside them) alone
    assert to_hashable({}) == () and to_hashable([]) == () and to_hashable(set()) == ()


def test_pinned_digests():
    assert database_hash({"a": 1}) == sha("(('a', 1),)")
    assert database_hash({"a": 1}) == "4f798fe9c78df93aa1bcc261edbd3e1e9b716ab581158271dd62421072c7f624"
    db = {"tags": ["x", "y"], "bikes": {"b1": {"status": "available", "rate": 10}}}
    text = "(('bikes', (('b1', (('rate', 10), ('status', 'available'))),)), ('tags', ('x', 'y')))"
    assert str(to_hashable(db)) == text
    assert database_hash(db) == "6adc7dd3956f4085e37709f91edb5a220af5cae6fdbaf8777c823cdd813d9e92" == sha(text)


def test_consistent_hash_is_sha256_of_str():
    assert consistent_hash((("k", "ü"),)) == sha("(('k', 'ü'),)")
    assert consistent_hash(12) == sha("12")


def test_dict_key_order_does_not_matter():
    rng = random.Random(0)
    items = [(f"k{i}", {"n": i, "tags": [i, i + 1]}) for i in range(20)]
    reference = database_hash(dict(items))
    for _ in range(5):
        rng.shuffle(items)
        shuffled = {k: dict(reversed(list(v.items()))) for k, v in items}
        assert database_hash(shuffled) == reference


def test_list_order_matters_set_order_does_not():
    assert database_hash({"a": [1, 2]}) != database_hash({"a": [2, 1]})
    assert database_hash({"a": {"x", "y", "z"}}) == database_hash({"a": {"z", "y", "x"}})
    assert to_hashable({"z", "a", "m"}) == ("a", "m", "z")
    # a set hashes like the sorted list of its elements (both become the same tuple), as in τ-bench
    assert database_hash({"a": {3, 1}}) == database_hash({"a": [1, 3]})


def test_a_changed_value_changes_the_hash():
    db = {"users": {"u1": {"balance": 10}}}
    assert database_hash(db) != database_hash({"users": {"u1": {"balance": 11}}})
    assert database_hash(db) != database_hash({"users": {"u1": {"balance": "10"}}})
