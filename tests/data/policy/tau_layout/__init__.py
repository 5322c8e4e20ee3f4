# A τ-bench domain package would import its env here (which needs tau_bench itself); the loader never runs it.
from tau_bench.envs.base import Env  # noqa: F401
