import json
from typing import Any

from tau_bench.envs.tool import Tool


class GetBike(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], bike_id: str) -> str:
        if bike_id not in data["bikes"]:
            return "Error: bike not found"
        return json.dumps(data["bikes"][bike_id])

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "get_bike",
                "description": "Get a bike's model, type (road or e-bike), status, hourly rate and renter.",
                "parameters": {
                    "type": "object",
                    "properties": {"bike_id": {"type": "string", "description": "The bike id, such as 'b1'."}},
                    "required": ["bike_id"],
                },
            },
        }
