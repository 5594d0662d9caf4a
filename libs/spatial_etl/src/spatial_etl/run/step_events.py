"""What an orchestrator may watch while a run executes: one event per step that ran.

:func:`~spatial_etl.run.executor.execute_run` opens an observer for the run (:func:`observing`)
and the code that runs a step reports it (:func:`timed_step`): the plan's steps through their
kind, and the export the pipeline writes after them. Observation is passive: a callback that
raises is logged and the run goes on, since watching a run must never change its outcome.

The observer lives in a context variable rather than being passed down the call chain: the
steps run several calls below the executor (pipelines, products) and none of those
signatures has a reason to know about watchers. The observer also remembers which step an
exception came out of, so the run's failure record names that step and file even when a
plugin's code raised something that is no platform error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)


class StepEvent(BaseModel):
    """One step of a run that ended, with how long it took and how it ended."""

    model_config = ConfigDict(frozen=True)

    step: str = Field(description="The step's name, as the intent declares it.")
    kind: str = Field(description="The step's kind: gdal, sql, sql_check, export, a plugin's.")
    dataset: str | None = Field(
        default=None,
        description="The dataset the input publishes (a split input adds '_<part>' to it); "
        "None when not known yet.",
    )
    file: str | None = Field(default=None, description="The input (s3 URI) the step processed.")
    status: Literal["succeeded", "failed"]
    seconds: float = Field(ge=0, description="Wall-clock duration of the step.")
    error: str | None = Field(default=None, description="Why the step failed; None otherwise.")


StepCallback = Callable[[StepEvent], None]


class _Observer:
    """The current run's watcher: its callback, the datasets of its inputs, where it failed."""

    def __init__(self, callback: StepCallback | None) -> None:
        self.callback = callback
        self.events: list[StepEvent] = []
        self.datasets: dict[str, str] = {}
        self.failures: list[tuple[BaseException, str, str | None]] = []

    def emit(self, event: StepEvent) -> None:
        self.events.append(event)
        if self.callback is None:
            return
        try:
            self.callback(event)
        except Exception:  # a watcher's fault never changes the run's outcome
            logger.exception("a step observer failed on step %s", event.step)


_OBSERVER: ContextVar[_Observer | None] = ContextVar("spatial_etl_step_observer", default=None)


@contextmanager
def observing(callback: StepCallback | None) -> Iterator[None]:
    """Report each step that ends within the block to ``callback`` (``None``: to nobody).

    Even without a callback the block remembers where steps failed (:func:`failed_step`).
    """
    token = _OBSERVER.set(_Observer(callback))
    try:
        yield
    finally:
        _OBSERVER.reset(token)


def ended_steps() -> list[StepEvent]:
    """The steps that ended so far in the current run, in order (the run records them)."""
    observer = _OBSERVER.get()
    return list(observer.events) if observer is not None else []


def name_datasets(datasets: Mapping[str, str]) -> None:
    """Tell the observer which dataset each input (by s3 URI) publishes, once it is known."""
    observer = _OBSERVER.get()
    if observer is not None:
        observer.datasets.update(datasets)


@contextmanager
def timed_step(step: str, kind: str, file: str | None) -> Iterator[None]:
    """Time the block as ``step`` on ``file`` and report it, whether it succeeds or raises."""
    observer = _OBSERVER.get()
    started = time.monotonic()
    try:
        yield
    except BaseException as error:
        if observer is not None:
            observer.failures.append((error, step, file))
            observer.emit(_event(observer, step, kind, file, started=started, error=error))
        raise
    if observer is not None:
        observer.emit(_event(observer, step, kind, file, started=started, error=None))


def failed_step(error: BaseException) -> tuple[str, str | None] | None:
    """The step (and file) ``error`` came out of, if it came out of one in this run.

    The exception itself, or one it was raised from (a step's error wrapped on its way up).
    """
    observer = _OBSERVER.get()
    if observer is None:
        return None
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and not any(current is seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    for failed, step, file in reversed(observer.failures):
        if any(failed is item for item in chain):
            return step, file
    return None


def _event(
    observer: _Observer,
    step: str,
    kind: str,
    file: str | None,
    *,
    started: float,
    error: BaseException | None,
) -> StepEvent:
    reason = None
    if error is not None:
        reason = str(error).strip() or type(error).__name__
    return StepEvent(
        step=step,
        kind=kind,
        dataset=observer.datasets.get(file) if file is not None else None,
        file=file,
        status="failed" if error is not None else "succeeded",
        seconds=max(0.0, time.monotonic() - started),
        error=reason,
    )
