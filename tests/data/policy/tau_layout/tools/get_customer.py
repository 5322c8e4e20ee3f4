import json
from typing import Any

from tau_bench.envs.tool import Tool


class GetCustomer(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], customer_id: str) -> str:
        customers = data["customers"]
        if customer_id not in customers:
            return "Error: customer not found"
        return json.dumps(customers[customer_id])

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "get_customer",
                "description": "Get a customer's profile: name, email, membership, balance and current rentals.",
                "parameters": {
                    "type": "object",
                    "properties": {"customer_id": {"type": "string", "description": "The customer id, such as 'c1'."}},
                    "required": ["customer_id"],
                },
            },
        }
