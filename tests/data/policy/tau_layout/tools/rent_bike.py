import json
from typing import Any

from tau_bench.envs.tool import Tool


class RentBike(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], customer_id: str, bike_id: str, hours: int) -> str:
        customers, bikes = data["customers"], data["bikes"]
        if customer_id not in customers:
            return "Error: customer not found"
        bike = bikes[bike_id]  # an unknown bike raises KeyError
        customer = customers[customer_id]
        if bike["status"] != "available":
            return "Error: the bike is not available"
        if bike["type"] == "e-bike" and customer["membership"] != "premium":
            return "Error: e-bikes are for premium members only"
        if not 1 <= hours <= 8:
            return "Error: a rental lasts 1 to 8 hours"
        # the bike is marked before the balance is checked: a refused rental must be rolled back by the env
        bike["status"], bike["renter"] = "rented", customer_id
        customer["rentals"].append(bike_id)
        cost = bike["rate"] * hours
        if customer["balance"] < cost:
            return f"Error: the balance {customer['balance']} does not cover the price {cost}"
        customer["balance"] -= cost
        return json.dumps({"bike_id": bike_id, "hours": hours, "cost": cost, "balance": customer["balance"]})

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "rent_bike",
                "description": "Rent a bike to a customer for some hours, paid from their balance. "
                "Ask for the customer's explicit confirmation first.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "customer_id": {"type": "string", "description": "The customer id."},
                        "bike_id": {"type": "string", "description": "The bike id."},
                        "hours": {"type": "integer", "description": "Whole hours, 1 to 8."},
                    },
                    "required": ["customer_id", "bike_id", "hours"],
                },
            },
        }
