"""WebShop's reward for a purchase, computed on our catalogue.

WebShop (Yao et al., 2022) scores the bought product against the goal as

    reward = r_type * (n_attributes_matched + n_options_matched + [price <= budget])
                    / (n_goal_attributes + n_goal_options + 1)

where `r_type` in {0, 0.1, 0.5, 1} says whether the product is of the asked kind: 1 when its search query is
the goal's, or at least two category-path components are shared, or more than 20% of the goal's name nouns
are in the product's; 0.5 when none of these holds; 0.1 when the noun overlap is below 10%; 0 when it is
none. A goal attribute is matched by a product attribute with token-set similarity above 85, or when it
appears in the title, feature bullets or description; each chosen option is matched exactly (sizes) or by
token-set similarity above 85 against the goal's option values, or found in the product text.

Differences from WebShop's code, all on the strict side: the noun sets come from the catalogue's type names
(WebShop parses titles with spaCy); option values containing a digit (capacities, models, packs, lengths)
are matched exactly like sizes, because fuzzy matching would take "iphone 14" for "iphone 15"; text look-ups
match whole words only (WebShop's substring test finds "tan" in "resistant"); and the option count is capped
at the number of goal options, so the reward never exceeds 1.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from agentgym.envs.web.shop.catalog import Product

FUZZY_THRESHOLD = 85
EXACT_MATCH_OPTIONS = frozenset({"size"})


@dataclass
class Goal:
    """What a task asks for.

    Attributes:
        product_id: the product the goal was made from (any product meeting the goal scores 1).
        type_query, type_name, category, name_nouns: the kind of product (see `get_type_reward`).
        attributes: attributes the product must have.
        options: option group -> wanted value.
        price_upper: the budget (the price must be at most this).
        instruction: the text shown to the agent.
    """

    product_id: str
    type_query: str
    type_name: str
    category: tuple[str, ...]
    name_nouns: tuple[str, ...]
    attributes: list[str]
    options: dict[str, str]
    price_upper: float
    instruction: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "type_query": self.type_query, "type_name": self.type_name,
                "category": list(self.category), "name_nouns": list(self.name_nouns),
                "attributes": list(self.attributes), "options": dict(self.options),
                "price_upper": self.price_upper, "instruction": self.instruction}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Goal:
        return cls(d["product_id"], d["type_query"], d["type_name"], tuple(d["category"]), tuple(d["name_nouns"]),
                   list(d["attributes"]), dict(d["options"]), float(d["price_upper"]), d.get("instruction", ""))


@dataclass
class RewardBreakdown:
    """The reward and its parts (WebShop's `verbose` info)."""

    reward: float
    r_type: float
    r_att: float
    r_option: float | None
    r_price: bool
    query_match: bool = False
    category_match: bool = False
    title_score: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


def _ratio(a: str, b: str) -> int:
    return round(100 * difflib.SequenceMatcher(None, a, b).ratio())


def token_set_ratio(a: str, b: str) -> int:
    """Similarity 0-100 of two strings as sets of words (fuzzywuzzy's `token_set_ratio`): 100 when one's
    words are a subset of the other's."""
    ta, tb = set(re.findall(r"\w+", a.lower())), set(re.findall(r"\w+", b.lower()))
    if not ta or not tb:
        return 0
    inter = " ".join(sorted(ta & tb))
    rest_a = (inter + " " + " ".join(sorted(ta - tb))).strip()
    rest_b = (inter + " " + " ".join(sorted(tb - ta))).strip()
    return max(_ratio(inter, rest_a) if inter else 0, _ratio(inter, rest_b) if inter else 0, _ratio(rest_a, rest_b))


def _in_text(phrase: str, product: Product) -> bool:
    text = " ".join([product.title, *product.features, product.description]).lower()
    return re.search(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)", text) is not None


def get_type_reward(product: Product, goal: Goal) -> dict[str, Any]:
    """r_type: whether the product is the kind of thing asked for (see the module docstring)."""
    query_match = product.type_query == goal.type_query
    category_match = len({c.strip() for c in product.category} & {c.strip() for c in goal.category}) >= 2
    desired = set(goal.name_nouns)
    title_score = len(product.name_nouns & desired) / len(desired) if desired else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {"r_type": r_type, "query_match": query_match, "category_match": category_match,
            "title_score": title_score}


def get_attribute_reward(product: Product, goal: Goal) -> tuple[float, int]:
    """(fraction, count) of goal attributes the product has."""
    matches = 0
    for g_attr in goal.attributes:
        if any(token_set_ratio(p_attr, g_attr) > FUZZY_THRESHOLD for p_attr in product.attributes) or \
                _in_text(g_attr, product):
            matches += 1
    return (matches / len(goal.attributes) if goal.attributes else 1.0), matches


def _exact(group: str, value: str) -> bool:
    return group.lower() in EXACT_MATCH_OPTIONS or any(ch.isdigit() for ch in value)


def get_option_reward(product: Product, goal_options: list[str], chosen: dict[str, str]) -> tuple[float | None, int]:
    """(fraction, count) of goal options met by the chosen options."""
    goals = [g.lower().strip() for g in goal_options]
    matches = 0
    for group, value in chosen.items():
        value = value.lower().strip()
        if not value:
            continue
        if _exact(group, value):
            matched = value in goals
        else:
            matched = any(token_set_ratio(g, value) > FUZZY_THRESHOLD for g in goals)
        if matched or _in_text(value, product):
            matches += 1
    matches = min(matches, len(goals))
    return (matches / len(goals) if goals else None), matches


def get_reward(product: Product | None, goal: Goal, price: float | None = None,
               options: dict[str, str] | None = None) -> RewardBreakdown:
    """WebShop's reward for buying `product` with `options` at `price` (the product's price by default);
    0 when nothing was bought."""
    if product is None:
        return RewardBreakdown(0.0, 0.0, 0.0, 0.0 if goal.options else None, False)
    price = product.price if price is None else price
    options = options or {}
    type_info = get_type_reward(product, goal)
    r_price = price <= goal.price_upper
    r_att, n_att = get_attribute_reward(product, goal)
    r_option, n_opt = get_option_reward(product, list(goal.options.values()), options)
    total = (n_att + n_opt + int(r_price)) / (len(goal.attributes) + len(goal.options) + 1)
    total *= type_info["r_type"]
    return RewardBreakdown(total, type_info["r_type"], r_att, r_option, r_price, type_info["query_match"],
                           type_info["category_match"], type_info["title_score"],
                           {"n_attributes": n_att, "n_options": n_opt, "price": price})
