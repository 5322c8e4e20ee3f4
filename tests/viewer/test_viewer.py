"""The HTML report of `agentgym view`, opened in a real headless Chromium through Playwright.

Runs come from the real code paths (see `_runs.py`): two eval runs of scripted agents on Arithmetic-v0 (before /
after, 8 tasks x 2 trials), a thought-graph and a tree-search episode, a web episode with a screenshot, an episode
whose texts are HTML, malformed lines, and a real 4-step GRPO run whose logger wrote the training folder.

`AGENTGYM_UPDATE_SCREENSHOTS=1` also writes the screenshots the README shows into docs/viewer/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _runs import INJECTION, STEPS, TASKS, TRIALS, make_eval_run, make_train_run

from agentgym.viewer import build_report, load_run, serve_in_thread

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "viewer"
RIGHT_BEFORE = {0, 2, 4, 6, 7}
RIGHT_AFTER = {0, 1, 2, 3, 4, 5, 6}
EXTRAS = 4  # thought graph, tree search, web, HTML injection


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("runs")
    out = {"before": make_eval_run(base / "before", RIGHT_BEFORE, extras=True, corrupt=True),
           "after": make_eval_run(base / "after", RIGHT_AFTER),
           "train": make_train_run(base / "train")}
    out["report"] = build_report([out["before"], out["after"], out["train"]], base / "report.html")
    return out


@pytest.fixture(scope="module")
def browser(runs: dict[str, Path]) -> Iterator[Any]:
    """One Chromium for the module, started after the runs (the sync API runs an event loop in this thread,
    and `collect` refuses to start inside one)."""
    from agentgym.tools.browser.chromium import CHROMIUM_ARGS, find_chromium
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=find_chromium(), args=list(CHROMIUM_ARGS), headless=True)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A page of the report with every console error and uncaught exception recorded."""

    def __init__(self, browser: Any, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_selector("html[data-ready]")

    def go(self, hash_: str) -> None:
        self.page.evaluate("h => { location.hash = h; }", hash_)

    def wait_count(self, n: int, equal: bool = True) -> None:
        """Wait until the list says it shows `n` episodes (`equal=False`: anything but `n`). Playwright's
        `expect` polls without `eval`, which the page's Content-Security-Policy forbids."""
        from playwright.sync_api import expect

        label = expect(self.page.locator("[data-testid=episode-count] b"))
        (label.to_have_text if equal else label.not_to_have_text)(str(n))

    def count(self) -> int:
        return int(self.page.locator("[data-testid=episode-count] b").inner_text())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any, runs: dict[str, Path]) -> Iterator[Page]:
    p = Page(browser, runs["report"].resolve().as_uri())
    yield p
    assert p.errors == [], p.errors
    p.close()


def _shot(p: Page, name: str, tmp_path: Path, full_page: bool = False) -> None:
    """Save a screenshot (and into docs/viewer/ when asked to update them); check it is not blank."""
    path = tmp_path / f"{name}.png"
    p.page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, "the screenshot is (nearly) blank"
    if os.environ.get("AGENTGYM_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        p.page.screenshot(path=str(DOCS / f"{name}.png"), full_page=full_page)


def _index(p: Page, run: int, task: str, env: str = "agentgym/Arithmetic-v0") -> int:
    """The episode index of the first episode of `task` in run `run` (as the page numbers them)."""
    return int(p.page.evaluate(
        """([run, task, env]) => { const m = JSON.parse(document.getElementById("ag-meta").textContent);
           const c = Object.fromEntries(m.cols.map((k, i) => [k, i]));
           return m.rows.findIndex(r => r[c.run] === run && r[c.task] === task && m.envs[r[c.env]] === env); }""",
        [run, task, env]))


# ------------------------------------------------------------------------------------------------ the list


def test_list_counts_every_episode_and_shows_the_skipped_lines(page: Page, runs: dict[str, Path],
                                                              tmp_path: Path) -> None:
    eval_episodes = len(TASKS) * TRIALS
    train_episodes = len(load_run(runs["train"]).episodes)
    assert train_episodes == STEPS * 8
    assert page.count() == 2 * eval_episodes + EXTRAS + train_episodes
    banner = page.page.locator("[data-testid=skipped]")
    assert banner.is_visible() and banner.inner_text().startswith("3 malformed or truncated lines were skipped")
    # the list is virtualised: far fewer row elements than episodes, and scrolling renders the last ones
    assert 0 < page.page.locator("#list-rows .row").count() < page.count()
    page.page.locator("#list-viewport").evaluate("v => { v.scrollTop = v.scrollHeight; }")
    from playwright.sync_api import expect

    expect(page.page.locator("#list-rows .row").last).to_have_attribute("data-index", str(page.count() - 1))
    page.page.locator("#list-viewport").evaluate("v => { v.scrollTop = 0; }")
    page.page.wait_for_timeout(100)
    _shot(page, "list", tmp_path)


def test_filters_hide_failures_and_select_by_reward_env_tool_and_text(page: Page) -> None:
    total = page.count()
    badges = page.page.locator("#list-rows .row .badge.outcome")
    assert "failure" in badges.all_inner_texts()
    page.page.select_option("#f-success", "1")
    page.wait_count(total, equal=False)
    successes = page.count()
    assert 0 < successes < total
    shown = page.page.locator("#list-rows .row .badge.outcome").all_inner_texts()
    assert shown and set(shown) == {"success"}
    page.page.select_option("#f-success", "")
    page.page.fill("#f-rmin", "0.5")
    page.wait_count(total, equal=False)
    assert page.count() < total
    page.page.click("#f-reset")
    page.page.select_option("#f-env", label="agentgym/WebShop-v0")
    page.wait_count(1)
    page.page.click("#f-reset")
    page.page.select_option("#f-tool", label="aggregate")  # only the thought-graph episode aggregated
    page.wait_count(1)
    page.page.click("#f-reset")
    page.page.fill("#f-text", "2 +* 3")  # the bad calculator expression of the odd tasks, in the transcripts
    odd = sum(1 for i in range(len(TASKS)) if i % 2) * TRIALS * 2  # both runs
    page.wait_count(odd)
    page.page.click("#f-reset")
    page.wait_count(total)
    # sort by reward, descending then ascending
    page.page.click("#list-head span[data-key=reward]")
    first = page.page.locator("#list-rows .row").first.get_attribute("data-index")
    page.page.click("#list-head span[data-key=reward]")
    assert page.page.locator("#list-rows .row").first.get_attribute("data-index") != first


def test_tasks_view_shows_pass_at_k_and_pass_hat_k(page: Page) -> None:
    page.go("#/tasks")
    table = page.page.locator("[data-testid=pass-at-k]").nth(1)  # run B: 7 of 8 tasks always solved
    table.wait_for()
    rows = table.locator("tr").all_inner_texts()
    assert rows[1].split() == ["1", "0.875", "0.875", "8"] and rows[2].split() == ["2", "0.875", "0.875", "8"]


# --------------------------------------------------------------------------------------------- one episode


def test_episode_shows_tool_calls_with_results_errors_and_rewards(page: Page, tmp_path: Path) -> None:
    page.page.select_option("#f-run", label="before")
    page.page.fill("#f-task", "test-1")  # a failing odd task: its first calculator call is an error
    page.wait_count(2)
    row = page.page.locator("#list-rows .row").first
    index = row.get_attribute("data-index")
    row.click()
    view = page.page.locator("#view-episode")
    view.locator("[data-testid=tool-call]").first.wait_for()
    assert page.page.evaluate("location.hash") == f"#/episode/{index}"
    system = view.locator("details.msg.system")
    assert system.count() == 1 and system.get_attribute("open") is None  # the system prompt is folded
    calls = view.locator("[data-testid=tool-call]")
    assert calls.count() == 3
    first = calls.nth(0)
    assert "calculator" in first.locator(".call-head").inner_text()
    assert '"expression": "2 +* 3"' in first.locator(".call-args").inner_text()
    result = first.locator("[data-testid=tool-result]")
    assert "error" in result.get_attribute("class") and "cannot parse" in result.inner_text()
    second = calls.nth(1).locator("[data-testid=tool-result]")
    assert second.get_attribute("class").strip() == "result" and second.inner_text().split()[-1].isdigit()
    assert view.locator("[data-testid=turn-reward]").all_inner_texts() == ["reward 0.000"] * 3
    components = view.locator("[data-testid=reward-components]").inner_text()
    assert "used_calculator" in components and "correct" in components
    assert view.locator(".badge.bad").first.inner_text() == "failure"
    _shot(page, "episode", tmp_path)


def test_web_episode_shows_screenshots_and_logprobs_on_hover(page: Page) -> None:
    page.go(f"#/episode/{_index(page, 0, 'shop-1', 'agentgym/WebShop-v0')}")
    img = page.page.locator("#view-episode img.shot").first
    img.wait_for()
    assert page.page.locator("#view-episode img.shot").count() == 2
    assert img.evaluate("i => i.complete && i.naturalWidth") == 24
    tokens = page.page.locator("#view-episode [data-testid=turn-tokens]")
    assert tokens.get_attribute("title") == "log-probs over 3 tokens: mean -0.8667, min -2"
    assert "40 prompt / 3 completion" in tokens.inner_text()


def test_thought_graph_and_search_tree_are_drawn(page: Page, tmp_path: Path) -> None:
    page.go(f"#/episode/{_index(page, 0, 'test-0', 'agentgym/ThoughtGraph-sorting')}")
    graph = page.page.locator("[data-testid=thought-graph]")
    graph.wait_for()
    assert graph.locator("g.gnode").count() == 10  # problem, 2 decompose, 4 solve, 2 aggregate, 1 refine
    assert graph.locator("line").count() >= 9
    _shot(page, "thought_graph", tmp_path)
    page.go(f"#/episode/{_index(page, 0, 'train-5')}")
    tree = page.page.locator("[data-testid=search-tree]")
    tree.wait_for()
    assert tree.locator(".node.chosen").count() >= 1 and "calculator" in tree.locator(".node").first.inner_text()


def test_html_in_a_trajectory_is_shown_as_text_never_run(page: Page) -> None:
    page.go(f"#/episode/{_index(page, 0, 'html-1')}")
    view = page.page.locator("#view-episode")
    view.locator("[data-testid=tool-call]").first.wait_for()
    assert page.page.evaluate("window.__pwned") is None
    assert view.locator("img").count() == 0 and view.locator("script").count() == 0
    assert view.locator(".msg.user").inner_text().endswith(INJECTION)
    assert view.locator("[data-testid=reward-components]").inner_text().count(INJECTION) == 1
    timeout, crash = view.locator("[data-testid=tool-result]").all()
    assert "timeout" in timeout.get_attribute("class") and "timed out" in timeout.inner_text()
    assert "error" in crash.get_attribute("class") and crash.locator("pre").inner_text() == "MemoryError"
    assert [n.split(":")[0] for n in crash.locator("[data-testid=sandbox-note]").all_inner_texts()] == ["sandbox"] * 2
    # the page asked for nothing but itself (its CSP forbids any other request)
    assert all(u.startswith(("file:", "data:")) for u in page.requests), page.requests


# ------------------------------------------------------------------------------------- side by side, curves


def test_side_by_side_lists_the_flipped_tasks(page: Page, tmp_path: Path) -> None:
    page.go("#/compare")
    fixed = page.page.locator("[data-testid=fixed-tasks] tr.flipped")
    fixed.first.wait_for()
    expected_fixed = sorted(TASKS[i] for i in RIGHT_AFTER - RIGHT_BEFORE)
    expected_broke = sorted(TASKS[i] for i in RIGHT_BEFORE - RIGHT_AFTER)
    assert sorted(fixed.evaluate_all("rs => rs.map(r => r.dataset.task)")) == expected_fixed
    broke = page.page.locator("[data-testid=broke-tasks] tr.flipped")
    assert sorted(broke.evaluate_all("rs => rs.map(r => r.dataset.task)")) == expected_broke
    summary = page.page.locator("[data-testid=compare-summary]").inner_text()
    assert "8 tasks in both runs" in summary and "fixed 3" in summary and "broke 1" in summary
    _shot(page, "compare", tmp_path)
    fixed.first.click()
    both = page.page.locator("[data-testid=side-by-side] .episode")
    both.first.wait_for()
    assert both.count() == 2
    assert both.nth(0).locator(".badge").first.inner_text() == "failure"
    assert both.nth(1).locator(".badge").first.inner_text() == "success"
    _shot(page, "side_by_side", tmp_path)


def test_dashboard_curves_have_one_point_per_logged_step_and_the_slider_opens_episodes(
        page: Page, runs: dict[str, Path], tmp_path: Path) -> None:
    logged = [json.loads(line) for line in (runs["train"] / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in logged] == list(range(1, STEPS + 1))
    page.go("#/train")
    reward = page.page.locator(".chart[data-metric=reward]")
    reward.wait_for()
    assert reward.locator("g.points[data-key=reward] circle.pt").count() == STEPS
    evals = reward.locator("g.points[data-key=eval_reward] circle.pt")
    assert evals.count() == STEPS // 2  # eval_every=2
    for key in ("success", "entropy", "kl", "clipfrac", "grad_norm", "tool_calls", "turns", "response_length",
                "rollout_seconds"):
        chart = page.page.locator(f"g.points[data-key={key}]")
        assert chart.count() == 1, key
        assert chart.locator("circle.pt").count() == STEPS, key
    assert page.page.locator(".chart[data-metric=rollout_seconds] g.points[data-key=train_seconds]").count() == 1
    title = reward.locator("g.points[data-key=reward] circle.pt title").first.text_content()
    assert title == f"train @ step 1: {round(logged[0]['reward'], 3):g}"
    _shot(page, "dashboard", tmp_path)
    slider = page.page.locator("#step-slider")
    slider.evaluate("s => { s.value = '1'; s.dispatchEvent(new Event('input')); }")  # the second step
    assert page.page.locator("[data-testid=slider-label]").inner_text().startswith("step 2: 8 sampled episodes")
    rows = page.page.locator("[data-testid=step-episodes] tr.click")
    assert rows.count() == 8
    rows.first.click()
    page.page.locator("#view-episode .episode").wait_for()
    assert "step 2" in page.page.locator("#view-episode .ep-head").inner_text()


# -------------------------------------------------------------------------------------------- CLI, serving


def test_cli_view_writes_the_report_and_serves_it_on_loopback(browser: Any, runs: dict[str, Path],
                                                             tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "agentgym.cli", "view", str(runs["after"]), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"report written to {out}" in proc.stdout and out.stat().st_size > 0
    bad = subprocess.run([sys.executable, "-m", "agentgym.cli", "view", str(tmp_path / "nothing")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such run folder" in bad.stderr
    server, url = serve_in_thread(out)
    try:
        assert url.startswith("http://127.0.0.1:")
        p = Page(browser, url)
        assert p.count() == len(TASKS) * TRIALS and p.errors == [], p.errors
        p.close()
        with pytest.raises(urllib.error.HTTPError, match="404"):  # the report only, not the run folder
            urllib.request.urlopen(url.replace("r.html", "trajectories.jsonl"), timeout=10)
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_of_only_garbage_is_a_page_that_says_so(browser: Any, tmp_path: Path) -> None:
    run = tmp_path / "broken"
    run.mkdir()
    (run / "trajectories.jsonl").write_text('{"episode_id": "a#0", "env_id"\nnot json\n[]\n{"no": "fields"}\n')
    (run / "summary.json").write_text("{")
    p = Page(browser, build_report([run]).resolve().as_uri())
    assert p.count() == 0 and p.errors == [], p.errors
    assert p.page.locator("#list-rows .empty").is_visible()
    banner = p.page.locator("[data-testid=skipped]").inner_text()
    assert banner.startswith("4 malformed or truncated lines were skipped") and "summary.json" in banner
    p.close()


def test_report_stays_under_its_jsonl_plus_200_kb(runs: dict[str, Path], tmp_path: Path) -> None:
    for name in ("before", "after", "train"):
        jsonl = sum(f.stat().st_size for f in runs[name].rglob("*.jsonl"))
        report = build_report([runs[name]], tmp_path / f"{name}.html")
        assert report.stat().st_size < jsonl + 200_000, name
