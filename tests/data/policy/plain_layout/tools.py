"""Spoke & Wheel bike rental, plain layout: one function per tool, the database passed as `data`."""

import json
from typing import Any

WRITE_TOOLS = ["rent_bike", "return_bike"]


def get_customer(data: dict[str, Any], customer_id: str) -> str:
    """Get a customer's profile: name, email, membership, balance and current rentals.

    Args:
        customer_id: The customer id, such as 'c1'.
    """
    if customer_id not in data["customers"]:
        return "Error: customer not found"
    return json.dumps(data["customers"][customer_id])


def find_customer_by_email(data: dict[str, Any], email: str) -> str:
    """Find a customer's id from their email address.

    Args:
        email: The email, such as 'ana@example.com'.
    """
    for customer_id, customer in data["customers"].items():
        if customer["email"].lower() == email.lower():
            return customer_id
    return "Error: no customer with this email"


def get_bike(data: dict[str, Any], bike_id: str) -> str:
    """Get a bike's model, type (road or e-bike), status, hourly rate and renter.

    Args:
        bike_id: The bike id, such as 'b1'.
    """
    if bike_id not in data["bikes"]:
        return "Error: bike not found"
    return json.dumps(data["bikes"][bike_id])


def rent_bike(data: dict[str, Any], customer_id: str, bike_id: str, hours: int) -> str:
    """Rent a bike to a customer for some hours, paid from their balance. Ask for explicit confirmation first.

    Args:
        customer_id: The customer id.
        bike_id: The bike id.
        hours: Whole hours, 1 to 8.
    """
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
    bike["status"], bike["renter"] = "rented", customer_id
    customer["rentals"].append(bike_id)
    cost = bike["rate"] * hours
    if customer["balance"] < cost:
        return f"Error: the balance {customer['balance']} does not cover the price {cost}"
    customer["balance"] -= cost
    return json.dumps({"bike_id": bike_id, "hours": hours, "cost": cost, "balance": customer["balance"]})


def return_bike(data: dict[str, Any], customer_id: str, bike_id: str) -> str:
    """Return a bike the customer has rented.

    Args:
        customer_id: The customer id.
        bike_id: The bike id.
    """
    bike = data["bikes"][bike_id]
    bike["status"], bike["renter"] = "available", None
    data["customers"][customer_id]["rentals"].remove(bike_id)
    return f"Bike {bike_id} returned."


def transfer_to_human_agents(data: dict[str, Any], summary: str) -> str:
    """Transfer the customer to a human agent, with a summary of the issue.

    Args:
        summary: A summary of the issue.
    """
    return "Transfer successful"
