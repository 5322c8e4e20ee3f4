"""Policy internalization data (CC-Gen's CAP-CPT): CPT records, oracle SFT conversations, their files, and
the supervised passes (`continued_pretraining`, `chat_sft`, `agentgym train` with trainer: cpt / sft)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from agentgym.envs.policy import PolicyEnv, PolicyOracleAgent, RuleCategory, generate_domain
from agentgym.envs.policy.generator import TEMPLATES, Write, decide
from agentgym.envs.policy.internalization import (
    CPT_KINDS,
    CPTRecord,
    SFTRecord,
    cpt_records,
    policy_free_prompt,
    read_jsonl,
    sft_conversations,
    to_dataset,
    write_jsonl,
)
from agentgym.trainers.lm_data import (
    DataFileError,
    chat_examples,
    read_chat_file,
    read_text_file,
    text_examples,
)
from agentgym.trainers.lm_train import mean_loss
from agentgym.trainers.sft import chat_sft, continued_pretraining

from agentgym.cli import main
from agentgym.episode import run_episodes

CATEGORIES = {c.value for c in RuleCategory}
DIALS = {"env_level": 2, "task_level": 2, "workflow_level": 3, "query_level": 2}
CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def domain():
    return generate_domain("retail", num_tasks=12, seed=0, **DIALS)


@pytest.fixture(scope="module")
def records(domain) -> list[CPTRecord]:
    return cpt_records(domain, seed=0)


@pytest.fixture(scope="module")
def conversations(domain) -> list[SFTRecord]:
    return sft_conversations(domain)


@pytest.fixture
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine they spin-wait for seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def byte_tokenizer() -> Any:
    """Byte-level BPE without merges (every text round-trips) and a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={ch: i for i, ch in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML
    return fast


def tiny_model(tokenizer: Any) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                      tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id, bos_token_id=None)
    return LlamaForCausalLM(cfg)


def short_chats(conversations: list[SFTRecord], domain, n: int = 4) -> list[list[dict[str, str]]]:
    """Oracle conversations cut to their first turns, with a system prompt short enough for byte tokens."""
    return [[{"role": "system", "content": policy_free_prompt(domain)}, *r.messages[1:6]] for r in conversations[:n]]


# ------------------------------------------------------------------ CPT records


@pytest.mark.parametrize("kind, dials", [
    ("retail", DIALS),
    ("airline", {"env_level": 1, "task_level": 1, "workflow_level": 4, "query_level": 4}),
    ("mixed", {"env_level": 1, "task_level": 1, "workflow_level": 1, "query_level": 3}),
])
def test_records_cover_every_rule_and_category(kind: str, dials: dict[str, int]) -> None:
    domain = generate_domain(kind, num_tasks=4, seed=1, **dials)
    records = cpt_records(domain, seed=0)
    assert {r.category for r in records} == CATEGORIES
    assert {r.kind for r in records} == set(CPT_KINDS)
    for rule in domain.rules:
        mine = [r for r in records if r.rule_id == rule.id]
        assert {"rule", "paraphrase", "qa"} <= {r.kind for r in mine}, rule.id
        assert all(r.category == rule.category.value for r in mine if r.kind != "scenario")
        assert any(r.kind == "rule" and rule.text in r.text for r in mine)
    for category in CATEGORIES:
        assert {"paraphrase", "qa"} <= {r.kind for r in records if r.category == category}, category
    assert sorted(r.task_id for r in records if r.kind == "scenario") == sorted(t.id for t in domain.tasks)
    assert all(r.domain == domain.name and r.text for r in records)


def test_records_are_deterministic_for_a_seed(domain, records: list[CPTRecord]) -> None:
    assert cpt_records(domain, seed=0) == records
    other = cpt_records(domain, seed=5)
    assert len(other) == len(records) and other != records  # other paraphrases and database cases
    assert len(cpt_records(domain, seed=0, paraphrases=1)) < len(records)


def _answer(record: CPTRecord) -> str:
    return record.text.split("\nA: ", 1)[1]


def test_rule_answers_are_spans_of_the_rule(domain, records: list[CPTRecord]) -> None:
    rules = {r.id: r for r in domain.rules}
    checked = 0
    for record in records:
        if record.kind != "qa" or record.rule_id not in rules or "decide?" in record.text or "a user asks" in record.text:
            continue
        core = re.split(r" \((?:rule [\d.]+|unless a condition|\*\*)", _answer(record))[0].strip().strip('"')
        assert core.rstrip(".") in rules[record.rule_id].text, record.text
        checked += 1
    assert checked >= 2 * len(rules)


def test_database_cases_follow_the_ladders(domain, records: list[CPTRecord]) -> None:
    """Each "what does the policy decide" answer names the rule whose whole condition chain holds for the
    record, says which conditions hold, and gives the amount the ladder computes."""
    rules = {r.id: r for r in domain.rules}
    cases = [r for r in records if r.kind == "qa" and "What does the policy decide?\nA: " in r.text]
    assert len(cases) >= 2 * 3  # two request kinds, one case per outcome level at least
    deciding_seen = set()
    for record in cases:
        rid = re.search(r"\b(ORD-\d{5})\b", record.text).group(1)
        order = domain.data["orders"][rid]
        owner = domain.data["users"][order["user_id"]]
        kind = TEMPLATES["retail"].kind("return" if "to return" in record.text else "cancel")
        decision = decide(kind, order, owner, DIALS["workflow_level"])
        answer = _answer(record)
        deciding = record.rule_id
        deciding_seen.add(deciding)
        assert f"so rule {deciding} decides" in answer
        assert rules[deciding].category is RuleCategory.CONDITIONAL
        depth = deciding.count(".")
        assert depth == decision.taken
        chain = [deciding.rsplit(".", depth - level)[0] for level in range(1, depth)] + [deciding] if depth else []
        for rule_id in chain:  # every condition on the way down holds ...
            assert re.search(rf"rule {re.escape(rule_id)} \(.*?\) holds", answer), (rule_id, answer)
        assert answer.count(") holds") == depth  # ... and no other does
        if isinstance(decision.outcome, Write):  # ... and the amount is the ladder's
            assert all(fact in answer for fact in decision.outcome.facts)
            assert f"calls {decision.outcome.tool}(" in answer
    assert len(deciding_seen) >= 4


def test_forbidden_request_and_scenarios(domain, records: list[CPTRecord]) -> None:
    forbidden = TEMPLATES["retail"].forbidden
    qa = [r for r in records if r.kind == "qa" and forbidden.request in r.text]
    assert qa and forbidden.phrase in _answer(qa[0]) and forbidden.phrase in {r.id: r for r in domain.rules}[
        qa[0].rule_id].text
    scenarios = {r.task_id: r for r in records if r.kind == "scenario"}
    for task in domain.tasks:
        text = scenarios[task.id].text
        assert scenarios[task.id].rules == [r["id"] for r in task.metadata["rules"]]
        for action in task.actions:
            assert f"{action.name}(" in text and all(json.dumps(v) in text for v in action.kwargs.values())
        assert all(o in text for o in task.outputs)
        assert scenarios[task.id].category == "conditional" or not any(
            r["category"] == "conditional" for r in task.metadata["rules"])


def test_domain_without_rules_is_refused(domain) -> None:
    import dataclasses

    with pytest.raises(ValueError, match="no rules"):
        cpt_records(dataclasses.replace(domain, rules=[]))


# ------------------------------------------------------------------ SFT conversations


def test_sft_keeps_successful_oracle_conversations_without_the_policy(domain, conversations: list[SFTRecord]) -> None:
    assert len(conversations) == len(domain.tasks)  # the oracle solves every generated task
    for record in conversations:
        assert record.reward == 1.0 and record.policy_dropped and record.categories
        system = record.messages[0]
        assert system["role"] == "system"
        assert policy_free_prompt(domain) in system["content"] and "<tools>" in system["content"]
        assert domain.policy.strip() not in system["content"]
        assert not any(rule.text in system["content"] for rule in domain.rules)
        assistant = [m for m in record.messages if m["role"] == "assistant"]
        assert len(assistant) == record.num_turns and all(m["content"].startswith("<think>") for m in assistant)
    kept = sft_conversations(domain, drop_policy=False, tasks=2)
    assert len(kept) == 2 and domain.policy.strip() in kept[0].messages[0]["content"]


def test_sft_drops_failed_episodes(domain) -> None:
    agent = PolicyOracleAgent(skip="nested_conditions")
    trajectories = __import__("asyncio").run(run_episodes(lambda: PolicyEnv(domain, max_turns=40), agent,
                                                          [(t.id, 0) for t in domain.tasks]))
    solved = {t.task_id for t in trajectories if t.success}
    assert 0 < len(solved) < len(domain.tasks)
    kept = sft_conversations(domain, agent=agent, max_turns=40)
    assert {r.task_id for r in kept} == solved and all(r.reward == 1.0 for r in kept)


def test_policy_free_prompt_is_enough_for_the_oracle(domain) -> None:
    """The eval setting of an internalized model: the env's system prompt without the policy."""
    kept = sft_conversations(domain, tasks=4, drop_policy=False, system_prompt=policy_free_prompt(domain))
    assert len(kept) == 4


# ------------------------------------------------------------------ files and datasets


def test_jsonl_round_trip_and_datasets(tmp_path: Path, records: list[CPTRecord], conversations: list[SFTRecord]) -> None:
    write_jsonl(records, tmp_path / "a" / "cpt.jsonl")
    write_jsonl(conversations, tmp_path / "sft.jsonl")
    assert read_jsonl(tmp_path / "a" / "cpt.jsonl", CPTRecord) == records
    assert read_jsonl(tmp_path / "sft.jsonl", SFTRecord) == conversations
    cpt = to_dataset(records)
    assert cpt.column_names == ["text", "category", "kind", "rule_id", "domain", "rules", "task_id"]
    assert len(cpt) == len(records) and cpt[0]["text"] == records[0].text
    sft = to_dataset(conversations)
    assert sft.column_names[0] == "messages" and len(sft) == len(conversations)
    assert sft[0]["messages"] == conversations[0].messages
    (tmp_path / "bad.jsonl").write_text(json.dumps({"text": "x", "category": "factual", "kind": "poem",
                                                     "rule_id": None, "domain": "d"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1"):
        read_jsonl(tmp_path / "bad.jsonl", CPTRecord)


def test_training_files_are_checked_line_by_line(tmp_path: Path) -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
    path = tmp_path / "sft.jsonl"
    path.write_text(good + "\n{not json\n")
    with pytest.raises(DataFileError, match=r"sft.jsonl:2: not valid JSON"):
        read_chat_file(path)
    path.write_text(good + "\n" + json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(DataFileError, match=r"sft.jsonl:2: .*no assistant message"):
        read_chat_file(path)
    path.write_text(json.dumps({"prompt": "x"}) + "\n")
    with pytest.raises(DataFileError, match=r"sft.jsonl:1: expected a non-empty list 'messages'"):
        read_chat_file(path)
    with pytest.raises(DataFileError, match=r"sft.jsonl:1: expected a non-empty string 'text'"):
        read_text_file(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        read_text_file(tmp_path / "missing.jsonl")


# ------------------------------------------------------------------ training


def test_chat_rows_train_only_assistant_tokens(domain, conversations: list[SFTRecord]) -> None:
    tok = byte_tokenizer()
    chats = short_chats(conversations, domain, 1)
    row = chat_examples(tok, chats, 100_000)[0]
    spans, current = [], []
    for token, trained in zip(row.input_ids, row.loss_mask, strict=True):
        if trained:
            current.append(token)
        elif current:
            spans.append(tok.decode(current))
            current = []
    if current:
        spans.append(tok.decode(current))
    assistant = [m["content"] + "<|im_end|>" for m in chats[0] if m["role"] == "assistant"]
    assert spans == assistant
    rendered = tok.apply_chat_template(
        chats[0][: max(i for i, m in enumerate(chats[0]) if m["role"] == "assistant") + 1], tokenize=False)
    assert rendered == tok.decode(row.input_ids) + "\n"  # the template's text, up to the last end of turn


def test_continued_pretraining_lowers_the_loss(records: list[CPTRecord], one_thread: None) -> None:
    tok = byte_tokenizer()
    model = tiny_model(tok)
    texts = [r.text for r in records if r.kind in ("rule", "qa")][:12]
    rows = text_examples(tok, texts, 128)
    before = mean_loss(model, rows, tok.pad_token_id)
    stats = continued_pretraining(model, tok, texts, epochs=2, learning_rate=3e-3, micro_batch_size=8, max_length=128)
    after = mean_loss(model, rows, tok.pad_token_id)
    assert stats.steps == 2 * -(-len(rows) // 8) and stats.tokens > 0
    assert after < before - 0.5, (before, after)


def test_chat_sft_lowers_the_loss_on_assistant_tokens(domain, conversations: list[SFTRecord], one_thread: None) -> None:
    tok = byte_tokenizer()
    model = tiny_model(tok)
    chats = short_chats(conversations, domain)
    rows = chat_examples(tok, chats, 1024)
    before = mean_loss(model, rows, tok.pad_token_id)
    chat_sft(model, tok, chats, epochs=4, learning_rate=3e-3, micro_batch_size=4, max_length=1024)
    after = mean_loss(model, rows, tok.pad_token_id)
    assert after < before - 0.5, (before, after)


# ------------------------------------------------------------------ command line


def test_cli_exports_then_trains_sft(tmp_path: Path, domain, capsys: pytest.CaptureFixture[str],
                                     one_thread: None) -> None:
    out = tmp_path / "export"
    assert main(["policy", "export", "--domain", "retail", "--env-level", "2", "--task-level", "2",
                 "--workflow-level", "3", "--query-level", "2", "--seed", "0", "--tasks", "3", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sft"] == {**summary["sft"], "tasks": 3, "conversations": 3, "policy_dropped": True}
    assert set(summary["cpt"]["by_category"]) == CATEGORIES and set(summary["cpt"]["by_kind"]) == set(CPT_KINDS)
    assert sum(summary["cpt"]["by_kind"].values()) == len((out / "cpt.jsonl").read_text().splitlines())
    exported = read_jsonl(out / "sft.jsonl", SFTRecord)
    assert "policydoc-retail" in capsys.readouterr().out

    tok = byte_tokenizer()
    model_dir = tmp_path / "tiny"
    tiny_model(tok).save_pretrained(model_dir)
    tok.save_pretrained(model_dir)
    data = tmp_path / "sft_short.jsonl"  # byte tokens: keep the rows short enough for a CPU test
    data.write_text("".join(json.dumps({"messages": m}) + "\n" for m in short_chats(exported, domain, 3)))
    run = {"trainer": "sft", "model": str(model_dir), "data": data.name, "epochs": 2, "learning_rate": 3e-3,
           "micro_batch_size": 2, "max_length": 1024, "log_every": 1, "output_dir": str(tmp_path / "run")}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    assert main(["train", str(tmp_path / "run.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "agentgym train: sft on" in printed and "step 4/4 loss" in printed
    result = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert result["steps"] == 4 and result["last_loss"] < result["first_loss"]
    assert (tmp_path / "run" / "config.json").exists()

    data.write_text(data.read_text() + "{oops\n")
    assert main(["train", str(tmp_path / "run.yaml")]) == 2
    assert "sft_short.jsonl:4: not valid JSON" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "run.yaml"), "--set", "epoch=1"]) == 2
    assert "unknown key 'epoch'" in capsys.readouterr().err



def test_smollm2_chat_template_rows(conversations: list[SFTRecord]) -> None:
    """The real SmolLM2 chat template: a whole oracle conversation tokenizes exactly as the template renders
    it, with `<|im_end|>` closing each trained assistant turn."""
    from transformers import AutoTokenizer

    from agentgym.models.loading import _cache_dir, resolve_model

    loc = resolve_model("smollm2")  # scripts/install.sh installs it; a missing model is a failure that says so
    cached = _cache_dir(loc)
    tok = (AutoTokenizer.from_pretrained(cached) if (cached / "config.json").exists()
           else AutoTokenizer.from_pretrained(loc.directory, gguf_file=loc.gguf_file))
    messages = conversations[0].messages
    row = chat_examples(tok, [messages], 100_000)[0]
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    assert tok.apply_chat_template(messages[: last + 1], tokenize=False) == tok.decode(row.input_ids) + "\n"
    trained = [t for t, m in zip(row.input_ids, row.loss_mask, strict=True) if m]
    assert trained.count(tok.convert_tokens_to_ids("<|im_end|>")) == conversations[0].num_turns
