from tau_bench.types import Action, Task

TASKS_TRAIN = [
    Task(
        annotator="0",
        user_id="c3",
        instruction="You are Chen Wei, customer c3. You want to rent b1 for 2 hours and want to know the price; "
        "if your balance is not enough, you give up.",
        actions=[
            Action(name="get_customer", kwargs={"customer_id": "c3"}),
            Action(name="get_bike", kwargs={"bike_id": "b1"}),
        ],
        outputs=["20"],
    ),
]
