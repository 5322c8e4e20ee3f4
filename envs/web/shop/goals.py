"""Shopping goals and their instructions, made from a target product (WebShop's synthetic goals)."""

from __future__ import annotations

import numpy as np
from agentgym.envs.web.shop.catalog import OPTION_PHRASES, Catalog, Product
from agentgym.envs.web.shop.reward import Goal

from agentgym.tasks import GeneratedTaskDataset, Task

PRICE_STEPS = tuple(10.0 * i for i in range(1, 100))
OPENINGS = ("I need {}", "I'm looking for {}", "Find me {}", "i want to buy {}", "Please get me {}",
            "I would like {}")


def _article(phrase: str) -> str:
    last = phrase.split()[-1]
    if last in ("shampoo", "tea") or (last.endswith("s") and not last.endswith("ss")):
        return "some " + phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def price_upper_for(rng: np.random.Generator, price: float) -> float:
    """A budget above `price` as WebShop draws one: the larger of two of the next four multiples of 10."""
    above = [p for p in PRICE_STEPS if p > price][:4]
    if len(above) < 2:
        return 1_000_000.0
    picks = sorted(rng.choice(len(above), 2, replace=False))
    return above[int(picks[1])]


def make_goal(rng: np.random.Generator, product: Product) -> Goal:
    """A goal met by `product`: 1-3 of its attributes, one value of each option group, a budget above its
    price, and the instruction that asks for them."""
    n_attr = int(rng.integers(1, min(3, len(product.attributes)) + 1))
    attributes = [product.attributes[j] for j in sorted(rng.choice(len(product.attributes), n_attr, replace=False))]
    options = {g: vals[int(rng.integers(len(vals)))] for g, vals in product.options.items()}
    price_upper = price_upper_for(rng, product.price)
    adjectives = [a for a in attributes if " " not in a]
    phrases = [a for a in attributes if " " in a]
    text = _article(" ".join([*adjectives, product.type_name]))
    with_ = [a for a in phrases if not a.startswith("for ")]
    text += "".join(" " + a for a in phrases if a.startswith("for "))
    if with_:
        text += " with " + (", ".join(with_[:-1]) + " and " if len(with_) > 1 else "") + with_[-1]
    opts = [OPTION_PHRASES.get(g, g + " {}").format(v) for g, v in options.items()]
    if opts:
        text += ", " + ", ".join(opts)
    if price_upper < 1_000_000:
        style = int(rng.integers(3))
        text += [f", under ${price_upper:.0f}", f", and price lower than {price_upper:.2f} dollars",
                 f", for less than ${price_upper:.0f}"][style]
    instruction = OPENINGS[int(rng.integers(len(OPENINGS)))].format(text)
    instruction = instruction[0].upper() + instruction[1:]
    return Goal(product.id, product.type_query, product.type_name, product.category,
                tuple(sorted(product.name_nouns)), attributes, options, price_upper, instruction)


def shop_tasks(catalog: Catalog, sizes: dict[str, int] | None = None, salt: str = "webshop") -> GeneratedTaskDataset:
    """Unlimited seeded shopping tasks (`train-N`, `test-N`) over `catalog`. A task's `prompt` is the
    instruction; `metadata["goal"]` the goal as a dict (`Goal.from_dict`); its `answer` the id of the product
    the goal was made from (one of possibly several that meet it)."""

    def generate(rng: np.random.Generator, task_id: str, split: str) -> Task:
        product = catalog.products[int(rng.integers(len(catalog)))]
        goal = make_goal(rng, product)
        return Task(id=task_id, prompt=goal.instruction, answer=product.id, split=split,
                    metadata={"goal": goal.to_dict()})

    return GeneratedTaskDataset(generate, sizes or {"train": 100_000, "test": 1_000}, salt=salt)
