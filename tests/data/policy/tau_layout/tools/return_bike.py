from typing import Any

from tau_bench.envs.tool import Tool


class ReturnBike(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], customer_id: str, bike_id: str) -> str:
        bike = data["bikes"][bike_id]
        bike["status"], bike["renter"] = "available", None
        data["customers"][customer_id]["rentals"].remove(bike_id)  # raises when this customer does not have it
        return f"Bike {bike_id} returned."

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "return_bike",
                "description": "Return a bike the customer has rented.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "customer_id": {"type": "string", "description": "The customer id."},
                        "bike_id": {"type": "string", "description": "The bike id."},
                    },
                    "required": ["customer_id", "bike_id"],
                },
            },
        }
