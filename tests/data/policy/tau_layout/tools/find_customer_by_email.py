from typing import Any

from tau_bench.envs.tool import Tool


class FindCustomerByEmail(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], email: str) -> str:
        for customer_id, customer in data["customers"].items():
            if customer["email"].lower() == email.lower():
                return customer_id
        return "Error: no customer with this email"

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "find_customer_by_email",
                "description": "Find a customer's id from their email address.",
                "parameters": {
                    "type": "object",
                    "properties": {"email": {"type": "string", "description": "The email, such as 'ana@example.com'."}},
                    "required": ["email"],
                },
            },
        }
