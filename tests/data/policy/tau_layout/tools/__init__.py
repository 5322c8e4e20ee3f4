from .find_customer_by_email import FindCustomerByEmail
from .get_bike import GetBike
from .get_customer import GetCustomer
from .rent_bike import RentBike
from .return_bike import ReturnBike
from .transfer_to_human_agents import TransferToHumanAgents

ALL_TOOLS = [
    FindCustomerByEmail,
    GetBike,
    GetCustomer,
    RentBike,
    ReturnBike,
    TransferToHumanAgents,
]
