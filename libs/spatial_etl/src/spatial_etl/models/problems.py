"""Machine-readable validation problems: one per rule broken, each with its location."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Problem(BaseModel):
    """One broken rule in a document a user wrote.

    ``loc`` is a dotted path into the document (``files[0].path``), empty for the document as
    a whole; ``code`` is stable and meant for programs, ``message`` for people.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    loc: str = Field(
        description="Dotted path to the offending value; empty for the whole document."
    )
    code: str = Field(description="Stable identifier of the rule that failed.")
    message: str = Field(description="What is wrong, in words a user can act on.")

    def __str__(self) -> str:
        return f"{self.loc or '(document)'}: {self.message}"


def format_loc(loc: Sequence[str | int]) -> str:
    """Render a Pydantic location tuple as ``files[0].path``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def problems_from_validation(
    error: ValidationError, prefix: Sequence[str | int] = ()
) -> list[Problem]:
    """Turn every error of a Pydantic ``ValidationError`` into a :class:`Problem`."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = (*prefix, *(part for part in item["loc"] if part != "__root__"))
        message = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        problems.append(Problem(loc=format_loc(loc), code=str(item["type"]), message=message))
    return problems


def describe_problems(problems: Iterable[Problem]) -> str:
    """One line per problem, for exception messages and terminals."""
    return "\n".join(f"- {problem}" for problem in problems)
