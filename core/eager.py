"""torch's optimizers without torch._dynamo: the compiler is 1.3 s of every run's start and nothing here compiles.

torch marks its optimizer methods "not to be compiled" in two ways, and both import torch._dynamo (the
compiler, 1.1-1.4 s on a 2-core CPU) the first time a method runs, in a process that never calls
torch.compile:

- `torch._disable_dynamo` wraps `Optimizer.__init__`'s add_param_group, zero_grad, state_dict and
  load_state_dict; the wrapper looks up the function's "already disabled" twin in a cache attribute
  and imports the compiler only to build it. Eager code never runs under the compiler, so the function
  is its own disabled twin: `prefill_disable_caches()` stores it there, once, at import.
- `_use_grad_for_differentiable` wraps every optimizer's step(): it imports torch._dynamo to place two
  graph breaks around the update and runs the update with grad mode set to `differentiable` (False).
  `eager_step()` calls the update beneath that wrapper under `torch.no_grad()`: the same arithmetic,
  the same grad mode, no compiler.

Both find torch's wrappers by their code objects, not by names, and leave anything they do not
recognise alone: a torch that wraps differently still trains, it only pays the import again
(tests/test_eager.py fails then, saying so).
"""

from __future__ import annotations

from types import MethodType
from typing import Any, Callable

import torch
import torch.optim.optimizer as torch_optimizer

_DISABLE_CACHE = "__dynamo_disable"  # the attribute torch._disable_dynamo's wrapper caches the twin in


def _code_of_wrapper(decorate: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Any:
    """The code object every wrapper `decorate` makes shares: how torch's own wrappers are recognised."""
    return getattr(decorate(lambda *args, **kwargs: None), "__code__", None)


_DISABLE_DYNAMO_CODE = _code_of_wrapper(torch._disable_dynamo)
_USE_GRAD_CODE = _code_of_wrapper(getattr(torch_optimizer, "_use_grad_for_differentiable", lambda f: f))


def _is_disable_dynamo_wrapper(attribute: object) -> bool:
    return getattr(attribute, "__code__", None) is _DISABLE_DYNAMO_CODE and hasattr(attribute, "__wrapped__")


def prefill_disable_caches(classes: tuple[type, ...] = (torch.optim.Optimizer,)) -> int:
    """Tell torch that each `_disable_dynamo`-wrapped method of `classes` is already its own disabled twin.

    Returns how many methods were filled (tests check it is not zero, i.e. torch still wraps this way).
    """
    filled = 0
    for cls in classes:
        for attribute in vars(cls).values():
            if _is_disable_dynamo_wrapper(attribute):
                function = attribute.__wrapped__
                if getattr(function, _DISABLE_CACHE, None) is None:
                    setattr(function, _DISABLE_CACHE, function)
                filled += 1
    return filled


def _update_beneath_use_grad(step: Callable[..., Any]) -> Callable[..., Any] | None:
    """The optimizer's own update under torch's step wrappers (profiling hooks, then `_use_grad`), or None."""
    wrapper: Any = step
    while wrapper is not None:
        if getattr(wrapper, "__code__", None) is _USE_GRAD_CODE:
            return getattr(wrapper, "__wrapped__", None)
        wrapper = getattr(wrapper, "__wrapped__", None)
    return None


def eager_step(optimizer: torch.optim.Optimizer) -> None:
    """Make `optimizer.step()` run its update without importing the compiler; nothing else changes.

    Install it before an LR scheduler is built: schedulers wrap `optimizer.step` to count its calls.
    What the bypass leaves out is what this program never uses: step pre/post hooks and the profiler's
    record_function label (torch's outermost step wrapper) and the graph breaks for torch.compile.
    """
    update = _update_beneath_use_grad(type(optimizer).step)
    if update is None or optimizer.defaults.get("differentiable", False):
        return

    def step(self: torch.optim.Optimizer, closure: Callable[[], float] | None = None) -> Any:
        with torch.no_grad():
            return update(self, closure)

    # A bound method, as the class's own step is when read from an instance: LR schedulers rebind it
    optimizer.step = MethodType(step, optimizer)  # type: ignore[method-assign]


prefill_disable_caches()
