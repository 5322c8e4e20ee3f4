"""The shop's seeded product catalogue and its search index.

A catalogue is a pure function of its seed and size: products of some 24 types (hiking boots, rain jackets,
headphones, coffee mugs, ...), each with a category path, a brand, 2-4 attributes from its type's pool
(waterproof, wireless, vegan, ...), options (size, color, capacity, ...: a subset of each group's values),
a price, feature bullets and a description. Attribute pools are chosen so that no attribute's words are a
subset of another's in the same type, so a goal attribute is met only by products that have it.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

COLORS = ("black", "white", "grey", "navy", "brown", "red", "green", "olive", "beige", "pink", "burgundy",
          "khaki", "blue", "purple", "yellow", "orange")
SHOE_SIZES = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "11.5", "12", "13")
CLOTHING_SIZES = ("xs", "s", "m", "l", "xl", "xxl")

# option group -> (how an instruction phrases a choice, whether the shop shows it as a <select>)
OPTION_PHRASES = {
    "size": "size {}", "color": "in {}", "capacity": "{} capacity", "pack": "{}", "flavor": "{} flavor",
    "model": "for {}", "length": "{} long", "thickness": "{} thick", "roast": "{} roast", "scent": "{} scent",
}
SELECT_OPTIONS = frozenset({"size", "model", "length"})


@dataclass(frozen=True)
class ProductType:
    """A kind of product: its search query, display name, category path, attribute pool, option groups
    (name -> (values, fewest, most offered)) and price range."""

    query: str
    name: str
    category: tuple[str, ...]
    attributes: tuple[str, ...]
    options: dict[str, tuple[tuple[str, ...], int, int]]
    price: tuple[float, float]
    suffixes: tuple[str, ...] = ("", "Classic", "Pro", "Essential", "2.0", "Everyday", "Signature")


def _opt(values: tuple[str, ...], lo: int, hi: int) -> tuple[tuple[str, ...], int, int]:
    return values, lo, hi


SHOES = ("Clothing, Shoes & Jewelry", "Shoes")
CLOTHES = ("Clothing, Shoes & Jewelry", "Clothing")
ELECTRONICS = ("Electronics",)
KITCHEN = ("Home & Kitchen", "Kitchen & Dining")
HOME = ("Home & Kitchen", "Home Decor")
SPORTS = ("Sports & Outdoors",)
BEAUTY = ("Beauty & Personal Care", "Hair Care")
GROCERY = ("Grocery & Gourmet Food", "Beverages")

PRODUCT_TYPES: tuple[ProductType, ...] = (
    ProductType("hiking boots", "hiking boot", (*SHOES, "Boots", "Hiking Boots"),
                ("waterproof", "vegan leather", "slip resistant", "ankle support", "breathable", "wide fit",
                 "lightweight", "insulated"),
                {"size": _opt(SHOE_SIZES, 6, 11), "color": _opt(("black", "brown", "grey", "olive", "khaki", "navy"), 2, 5)},
                (39.0, 189.0)),
    ProductType("rain boots", "rain boot", (*SHOES, "Boots", "Rain Boots"),
                ("waterproof", "knee high", "fleece lined", "slip resistant", "packable", "natural rubber"),
                {"size": _opt(SHOE_SIZES, 6, 11), "color": _opt(("black", "yellow", "red", "navy", "green", "pink"), 2, 5)},
                (25.0, 99.0)),
    ProductType("chelsea boots", "chelsea boot", (*SHOES, "Boots", "Chelsea Boots"),
                ("genuine leather", "suede", "elastic side panels", "rubber sole", "wide fit", "vegan"),
                {"size": _opt(SHOE_SIZES, 6, 11), "color": _opt(("black", "brown", "beige", "burgundy", "grey"), 2, 4)},
                (45.0, 199.0)),
    ProductType("running shoes", "running shoe", (*SHOES, "Athletic", "Running Shoes"),
                ("breathable", "lightweight", "cushioned", "arch support", "reflective", "wide fit", "vegan"),
                {"size": _opt(SHOE_SIZES, 6, 11), "color": _opt(("black", "white", "grey", "blue", "red", "orange", "pink"), 2, 5)},
                (35.0, 169.0)),
    ProductType("slippers", "slipper", (*SHOES, "Slippers"),
                ("memory foam", "non skid sole", "machine washable", "faux fur", "indoor outdoor"),
                {"size": _opt(SHOE_SIZES, 5, 10), "color": _opt(("grey", "pink", "navy", "beige", "brown", "black"), 2, 5)},
                (12.0, 59.0)),
    ProductType("rain jackets", "rain jacket", (*CLOTHES, "Jackets & Coats", "Rain Jackets"),
                ("waterproof", "packable", "hooded", "breathable", "windproof", "recycled materials"),
                {"size": _opt(CLOTHING_SIZES, 3, 6), "color": _opt(("black", "navy", "yellow", "olive", "red", "blue"), 2, 5)},
                (29.0, 179.0)),
    ProductType("down jackets", "down jacket", (*CLOTHES, "Jackets & Coats", "Down Jackets"),
                ("packable", "hooded", "water resistant", "machine washable", "responsibly sourced down"),
                {"size": _opt(CLOTHING_SIZES, 3, 6), "color": _opt(("black", "navy", "olive", "burgundy", "grey", "beige"), 2, 5)},
                (59.0, 249.0)),
    ProductType("fleece jackets", "fleece jacket", (*CLOTHES, "Jackets & Coats", "Fleece Jackets"),
                ("full zip", "zipper pockets", "anti pill", "recycled polyester", "lightweight"),
                {"size": _opt(CLOTHING_SIZES, 3, 6), "color": _opt(("black", "grey", "navy", "green", "khaki", "purple"), 2, 5)},
                (19.0, 89.0)),
    ProductType("t-shirts", "t-shirt", (*CLOTHES, "Tops & Tees", "T-Shirts"),
                ("organic cotton", "moisture wicking", "v neckline", "tagless", "relaxed fit", "short sleeve"),
                {"size": _opt(CLOTHING_SIZES, 3, 6), "color": _opt(COLORS, 3, 7)},
                (8.0, 39.0)),
    ProductType("over-ear headphones", "over-ear headphones", (*ELECTRONICS, "Headphones", "Over-Ear Headphones"),
                ("wireless", "noise cancelling", "foldable", "built-in microphone", "long battery life",
                 "hi-res audio"),
                {"color": _opt(("black", "white", "grey", "navy", "beige", "blue"), 2, 4)},
                (25.0, 349.0)),
    ProductType("earbuds", "earbuds", (*ELECTRONICS, "Headphones", "Earbuds"),
                ("bluetooth", "noise cancelling", "sweatproof", "touch controls", "charging case", "low latency"),
                {"color": _opt(("black", "white", "blue", "pink", "green"), 2, 4)},
                (15.0, 249.0)),
    ProductType("bluetooth speakers", "bluetooth speaker", (*ELECTRONICS, "Portable Audio", "Speakers"),
                ("waterproof", "portable", "long battery life", "stereo pairing", "built-in microphone", "rugged"),
                {"color": _opt(("black", "blue", "red", "grey", "green", "orange"), 2, 4)},
                (19.0, 199.0)),
    ProductType("phone cases", "phone case", (*ELECTRONICS, "Cell Phone Accessories", "Cases"),
                ("shockproof", "slim", "magsafe compatible", "card holder", "clear back", "kickstand"),
                {"model": _opt(("iphone 15", "iphone 14", "iphone 13", "galaxy s24", "galaxy s23", "pixel 8"), 2, 5),
                 "color": _opt(("black", "navy", "pink", "green", "purple", "red"), 2, 5)},
                (7.0, 49.0)),
    ProductType("usb c cables", "usb c cable", (*ELECTRONICS, "Cables", "USB Cables"),
                ("fast charging", "braided nylon", "data sync", "right angle", "durable"),
                {"length": _opt(("3 ft", "6 ft", "10 ft"), 2, 3), "pack": _opt(("pack of 1", "pack of 2", "pack of 3"), 1, 3)},
                (5.0, 29.0)),
    ProductType("desk lamps", "desk lamp", ("Tools & Home Improvement", "Lighting", "Desk Lamps"),
                ("dimmable", "usb charging port", "touch control", "adjustable arm", "eye caring", "clamp mount"),
                {"color": _opt(("black", "white", "grey", "pink", "blue"), 2, 4)},
                (15.0, 119.0)),
    ProductType("coffee mugs", "coffee mug", (*KITCHEN, "Mugs", "Coffee Mugs"),
                ("ceramic", "dishwasher safe", "microwave safe", "gift boxed", "lid included", "handmade"),
                {"capacity": _opt(("12 oz", "16 oz", "20 oz"), 1, 3), "color": _opt(COLORS, 2, 6)},
                (8.0, 39.0)),
    ProductType("travel mugs", "travel mug", (*KITCHEN, "Mugs", "Travel Mugs"),
                ("insulated", "leak proof", "stainless steel", "bpa free", "cup holder friendly"),
                {"capacity": _opt(("12 oz", "16 oz", "20 oz", "30 oz"), 2, 4), "color": _opt(COLORS, 2, 6)},
                (12.0, 49.0)),
    ProductType("water bottles", "water bottle", (*KITCHEN, "Water Bottles"),
                ("bpa free", "insulated", "leak proof", "straw lid", "dishwasher safe", "glass"),
                {"capacity": _opt(("24 oz", "32 oz", "40 oz", "64 oz"), 2, 4), "color": _opt(COLORS, 2, 6)},
                (9.0, 59.0)),
    ProductType("frying pans", "frying pan", (*KITCHEN, "Cookware", "Frying Pans"),
                ("nonstick", "oven safe", "induction compatible", "pfoa free", "cast iron", "stay cool handle"),
                {"size": _opt(("8 inch", "10 inch", "12 inch"), 1, 3)},
                (14.0, 129.0)),
    ProductType("throw pillow covers", "throw pillow cover", (*HOME, "Pillows", "Throw Pillow Covers"),
                ("velvet", "machine washable", "zipper closure", "linen", "boho", "outdoor"),
                {"size": _opt(("16x16 inch", "18x18 inch", "20x20 inch"), 1, 3),
                 "color": _opt(COLORS, 2, 6), "pack": _opt(("pack of 2", "pack of 4"), 1, 2)},
                (9.0, 45.0)),
    ProductType("yoga mats", "yoga mat", (*SPORTS, "Exercise & Fitness", "Yoga Mats"),
                ("non slip", "eco friendly", "carrying strap", "alignment lines", "sweat resistant"),
                {"thickness": _opt(("4 mm", "6 mm", "8 mm"), 1, 3), "color": _opt(COLORS, 2, 6)},
                (15.0, 99.0)),
    ProductType("backpacks", "backpack", (*SPORTS, "Outdoor Recreation", "Backpacks"),
                ("waterproof", "laptop sleeve", "anti theft", "usb charging port", "lightweight", "padded straps"),
                {"capacity": _opt(("20 l", "30 l", "40 l"), 1, 3), "color": _opt(("black", "grey", "navy", "olive", "red", "blue"), 2, 5)},
                (19.0, 149.0)),
    ProductType("shampoo", "shampoo", (*BEAUTY, "Shampoo"),
                ("sulfate free", "paraben free", "vegan", "color safe", "for dry hair", "tea tree"),
                {"size": _opt(("8 fl oz", "12 fl oz", "16 fl oz", "33.8 fl oz"), 1, 4),
                 "scent": _opt(("coconut", "lavender", "citrus", "unscented", "eucalyptus"), 1, 3)},
                (6.0, 39.0)),
    ProductType("green tea", "green tea", (*GROCERY, "Tea", "Green Tea"),
                ("organic", "non gmo", "kosher", "loose leaf", "decaf", "fair trade"),
                {"flavor": _opt(("jasmine", "mint", "lemon", "matcha", "original"), 1, 4),
                 "pack": _opt(("pack of 1", "pack of 3", "pack of 6"), 1, 3)},
                (5.0, 35.0)),
    ProductType("coffee beans", "coffee beans", (*GROCERY, "Coffee", "Whole Bean Coffee"),
                ("organic", "fair trade", "single origin", "low acid", "kosher", "decaf"),
                {"roast": _opt(("light", "medium", "dark"), 1, 3), "size": _opt(("12 oz", "2 lb", "5 lb"), 1, 3)},
                (9.0, 69.0)),
)

BRANDS = ("Trailcrest", "Northvale", "Pinewick", "Ashford", "Lumora", "Kestrel", "Brightfield", "Oakhollow",
          "Saltmarsh", "Vireo", "Halden", "Corvid", "Marlowe", "Tidewell", "Emberly", "Quillon", "Ridgeway",
          "Solenne", "Amberley", "Fjordic", "Graniteer", "Wrenfield", "Copperline", "Juniper & Co")
AUDIENCES = ("", "", "Men's", "Women's", "Unisex")
TYPE_AUDIENCE = frozenset({"hiking boots", "rain boots", "chelsea boots", "running shoes", "slippers",
                           "rain jackets", "down jackets", "fleece jackets", "t-shirts"})

_TOKEN = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")


def normalize_token(token: str) -> str:
    """Lowercase with a plain plural 's' dropped ("boots" -> "boot"), for search and type matching."""
    token = token.lower()
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Normalized word tokens of `text`."""
    return [normalize_token(t) for t in _TOKEN.findall(text.lower())]


@dataclass
class Product:
    """One product of the catalogue."""

    id: str
    type_query: str
    type_name: str
    category: tuple[str, ...]
    brand: str
    title: str
    attributes: list[str]
    options: dict[str, list[str]]
    price: float
    features: list[str]
    description: str
    rating: float

    @property
    def category_path(self) -> str:
        return " › ".join(self.category)

    @property
    def name_nouns(self) -> set[str]:
        """The words that name the product's kind (its type name and category leaf), standing in for the
        nouns WebShop's type reward takes from titles with spaCy."""
        return set(tokens(self.type_name)) | set(tokens(self.category[-1]))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "type": self.type_query, "category": self.category_path,
                "attributes": list(self.attributes), "options": {k: list(v) for k, v in self.options.items()},
                "price": self.price}


def _features(rng: random.Random, attributes: list[str], type_name: str) -> list[str]:
    templates = ("{A}: made to last through daily use", "{A} design you will appreciate",
                 "{A} - tested by our team", "Thoughtfully {a}", "{A} for extra comfort and peace of mind")
    out = [rng.choice(templates).format(A=a.capitalize(), a=a) for a in attributes]
    out.append(f"Satisfaction guaranteed: return your {type_name} within 30 days")
    return out


@dataclass
class Catalog:
    """Products plus a small inverted index for search.

    Args:
        products: the products, in id order.
    """

    products: list[Product]
    _by_id: dict[str, Product] = field(default_factory=dict, repr=False)
    _postings: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _idf: dict[str, float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.products}
        postings: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(self.products):
            doc = " ".join([p.title, p.type_name, p.type_query, " ".join(p.attributes), p.category[-1],
                            " ".join(v for vals in p.options.values() for v in vals)])
            for tok in sorted(set(tokens(doc))):
                postings[tok].append(i)
        n = len(self.products)
        self._postings = dict(postings)
        self._idf = {t: math.log(1 + (n - len(ids) + 0.5) / (len(ids) + 0.5)) for t, ids in postings.items()}

    @classmethod
    def generate(cls, seed: int = 0, n_products: int = 4_800) -> Catalog:
        """A catalogue of `n_products` products, the same for the same seed (cached: catalogues are not
        modified after they are made)."""
        return _generate(seed, n_products)

    def get(self, product_id: str) -> Product | None:
        return self._by_id.get(product_id)

    def __len__(self) -> int:
        return len(self.products)

    def search(self, query: str, limit: int = 50) -> list[Product]:
        """Products ranked by the summed idf of the query words they contain (ties by id), best first."""
        scores: dict[int, float] = defaultdict(float)
        for tok in set(tokens(query)):
            for i in self._postings.get(tok, ()):
                scores[i] += self._idf[tok]
        ranked = sorted(scores.items(), key=lambda kv: (-round(kv[1], 9), kv[0]))
        return [self.products[i] for i, _ in ranked[:limit]]


@functools.lru_cache(maxsize=4)
def _generate(seed: int, n_products: int) -> Catalog:
    rng = random.Random(seed)
    products = [_make_product(rng, PRODUCT_TYPES[i % len(PRODUCT_TYPES)]) for i in range(n_products)]
    rng.shuffle(products)  # types interleaved in id order
    for i, p in enumerate(products):
        p.id = f"B{i:05d}"
    return Catalog(products)


def _make_product(rng: random.Random, ptype: ProductType) -> Product:
    n_attr = rng.randint(2, min(4, len(ptype.attributes)))
    picked_attrs = set(rng.sample(ptype.attributes, n_attr))
    attributes = [a for a in ptype.attributes if a in picked_attrs]
    options: dict[str, list[str]] = {}
    for group, (values, lo, hi) in ptype.options.items():
        picked = set(rng.sample(values, rng.randint(lo, min(hi, len(values)))))
        options[group] = [v for v in values if v in picked]
    lo_p, hi_p = ptype.price
    price = round(math.exp(rng.uniform(math.log(lo_p), math.log(hi_p)))) - 0.01
    brand = rng.choice(BRANDS)
    audience = rng.choice(AUDIENCES) if ptype.query in TYPE_AUDIENCE else ""
    shown = set(rng.sample(attributes, rng.randint(0, 2)))
    in_title = [a for a in attributes if a in shown]
    suffix = rng.choice(ptype.suffixes)
    words = [brand, audience, *(a.title() for a in in_title), ptype.name.title()]
    title = " ".join(w for w in words if w) + (f" - {suffix}" if suffix else "")
    features = _features(rng, attributes, ptype.name)
    description = (f"The {brand} {ptype.name} is {', '.join(attributes[:-1])} and {attributes[-1]}. "
                   f"Part of our {ptype.category[-1].lower()} range.")
    rating = round(rng.uniform(3.0, 5.0), 1)
    return Product("", ptype.query, ptype.name, ptype.category, brand, title, attributes, options, price,
                   features, description, rating)
