from tau_bench.types import Action, Task

TASKS_TEST = [
    Task(
        annotator="0",
        user_id="c1",
        instruction="You are Ana Ruiz (ana@example.com). You want to rent bike b1 for 2 hours and want to know "
        "what it costs.",
        actions=[
            Action(name="find_customer_by_email", kwargs={"email": "ana@example.com"}),
            Action(name="get_bike", kwargs={"bike_id": "b1"}),
            Action(name="rent_bike", kwargs={"customer_id": "c1", "bike_id": "b1", "hours": 2}),
        ],
        outputs=["20"],
    ),
    Task(
        annotator="0",
        user_id="c2",
        instruction="You are Ben Okafor, customer c2. You want the e-bike b3 for 3 hours and want to know the price.",
        actions=[
            Action(name="get_customer", kwargs={"customer_id": "c2"}),
            Action(name="get_bike", kwargs={"bike_id": "b3"}),
            Action(name="rent_bike", kwargs={"customer_id": "c2", "bike_id": "b3", "hours": 3}),
        ],
        outputs=["75"],
    ),
    Task(
        annotator="0",
        user_id="c1",
        instruction="You are Ana Ruiz, customer c1. You want the e-bike b4 for one hour. If told you cannot, you "
        "insist and ask for a human.",
        actions=[
            Action(name="get_customer", kwargs={"customer_id": "c1"}),
            Action(name="get_bike", kwargs={"bike_id": "b4"}),
            Action(name="transfer_to_human_agents", kwargs={"summary": "Basic member insists on renting e-bike b4."}),
        ],
        outputs=[],
    ),
    Task(
        annotator="0",
        user_id="c3",
        instruction="You are Chen Wei, customer c3. You want to return bike b2.",
        actions=[Action(name="return_bike", kwargs={"customer_id": "c3", "bike_id": "b2"})],
        outputs=[],
    ),
    Task(
        annotator="0",
        user_id="c2",
        instruction="You are Ben Okafor, customer c2. You only want to know your balance.",
        actions=[Action(name="get_customer", kwargs={"customer_id": "c2"})],
        outputs=["1250"],
    ),
]
