"""What can be bought: a month of a plan, or a pack of credits. Prices in cents (CNY)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    kind: Literal["plan", "credits"]
    amount_cents: int
    currency: str = "CNY"
    plan: str | None = None
    days: int = 0
    credits: int = 0


PRODUCTS: dict[str, Product] = {
    product.code: product
    for product in (
        Product("pro_month", "plan", 3900, plan="pro", days=31),
        Product("max_month", "plan", 12900, plan="max", days=31),
        Product("credits_500", "credits", 1500, credits=500),
        Product("credits_2000", "credits", 5000, credits=2000),
    )
}
