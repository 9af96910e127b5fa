"""What the on-demand scores keep per API process (loaded models, mart columns, the churn
rules' references, recent answers), created with the app and handed to the routes as a
dependency."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from api.routes._active_models import ActiveModels
from api.routes._features import MartColumns, RuleReferences


class Answers:
    """The latest answers by their exact inputs (the feature row's values and the model
    version that answered): the same inputs give the same answer, so a repeated read skips
    the computation. Least recently used answers go first past `size`."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._held: OrderedDict[Hashable, dict[str, Any]] = OrderedDict()

    def get(self, key: Hashable) -> dict[str, Any] | None:
        answer = self._held.get(key)
        if answer is not None:
            self._held.move_to_end(key)
        return answer

    def put(self, key: Hashable, answer: dict[str, Any]) -> None:
        self._held[key] = answer
        self._held.move_to_end(key)
        while len(self._held) > self.size:
            self._held.popitem(last=False)


@dataclass
class OnDemand:
    models: ActiveModels = field(default_factory=ActiveModels)
    columns: MartColumns = field(default_factory=MartColumns)
    answers: Answers = field(default_factory=Answers)
    references: RuleReferences = field(init=False)

    def __post_init__(self) -> None:
        self.references = RuleReferences(self.columns)


async def _on_demand(request: Request) -> OnDemand:
    return request.app.state.on_demand


OnDemandState = Annotated[OnDemand, Depends(_on_demand)]
