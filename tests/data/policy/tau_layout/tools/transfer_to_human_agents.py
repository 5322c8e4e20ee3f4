from typing import Any

from tau_bench.envs.tool import Tool


class TransferToHumanAgents(Tool):
    @staticmethod
    def invoke(data: dict[str, Any], summary: str) -> str:
        return "Transfer successful"

    @staticmethod
    def get_info() -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "transfer_to_human_agents",
                "description": "Transfer the customer to a human agent, with a summary of the issue.",
                "parameters": {
                    "type": "object",
                    "properties": {"summary": {"type": "string", "description": "A summary of the issue."}},
                    "required": ["summary"],
                },
            },
        }
