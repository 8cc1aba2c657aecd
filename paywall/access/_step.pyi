from collections.abc import Coroutine
from typing import Any

def first_step(coro: Coroutine[Any, Any, Any], /) -> tuple[bool, Any]: ...
