"""The project's own shop (a WebShop-like site): catalogue, pages, server, goals, reward and a scripted shopper.

- `Catalog` (`catalog.py`): thousands of seeded products with attributes, options and prices, and search.
- `ShopSite` (`site.py`): the ASGI app (plain HTML forms and links) with per-episode sessions and purchases;
  `ShopServer` (`server.py`) serves it with uvicorn on a free loopback port in a background thread.
- `Goal`, `get_reward` (`reward.py`): WebShop's reward; `make_goal`, `shop_tasks` (`goals.py`): instructions
  and unlimited seeded train/test tasks.
- `Shopper`, `ShopOracle`, `drive` (`shopper.py`): a scripted shopper that acts on the page text.
- `ShopPolicy`, `shop_value`, `goals_for` (`policies.py`): the shopper as a policy of the conversation alone
  (optionally epsilon-noisy), and a scripted value function for tree search.
"""

from agentgym.envs.web.shop.catalog import PRODUCT_TYPES, Catalog, Product, ProductType
from agentgym.envs.web.shop.goals import make_goal, shop_tasks
from agentgym.envs.web.shop.policies import ShopPolicy, goals_for, shop_value
from agentgym.envs.web.shop.reward import Goal, RewardBreakdown, get_reward, token_set_ratio
from agentgym.envs.web.shop.server import ShopServer
from agentgym.envs.web.shop.shopper import ShopOracle, Shopper, drive, parse_page
from agentgym.envs.web.shop.site import Purchase, ShopSite

__all__ = [
    "PRODUCT_TYPES",
    "Catalog",
    "Goal",
    "Product",
    "ProductType",
    "Purchase",
    "RewardBreakdown",
    "ShopOracle",
    "ShopPolicy",
    "ShopServer",
    "ShopSite",
    "Shopper",
    "drive",
    "get_reward",
    "goals_for",
    "make_goal",
    "parse_page",
    "shop_tasks",
    "shop_value",
    "token_set_ratio",
]
