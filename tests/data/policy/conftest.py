"""Domain folders used as test data: `tau_layout/tasks_test.py` matches pytest's `*_test.py` pattern but is
a τ-bench task module, not a test."""

collect_ignore = ["tau_layout", "plain_layout"]
