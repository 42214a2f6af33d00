"""The library of dealership workflow templates (``data/templates.yaml``) that generation starts from.

Templates are data: each is a trigger and a small DAG of steps in the vocabulary of ``catalog.py``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas.models import BusinessDomain, WorkflowStep, WorkflowTrigger

DEFAULT_TEMPLATES_PATH = Path(__file__).parent / "data" / "templates.yaml"


class WorkflowTemplate(BaseModel):
    """One reusable workflow: what it is for (embedded for search) and the trigger and steps it runs.

    The loaded library is cached and shared: copy a template (``model_copy(deep=True)``) before adapting it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    template_id: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    domain: BusinessDomain
    description: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)
    trigger: WorkflowTrigger
    steps: list[WorkflowStep] = Field(min_length=1)

    def search_text(self) -> str:
        """The text that represents this template in semantic search: name, description and keywords."""
        return f"{self.name}. {self.description.strip()} Keywords: {', '.join(self.keywords)}."


def load_templates(path: Path | str | None = None) -> tuple[WorkflowTemplate, ...]:
    """Load and check a template library (default: the packaged one); the result is cached per file.

    Raises ValueError naming the template and the problem when the file is malformed or ids repeat."""
    return _load(Path(path) if path is not None else DEFAULT_TEMPLATES_PATH)


@functools.cache
def _load(path: Path) -> tuple[WorkflowTemplate, ...]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"workflow templates file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, list):
        raise ValueError(f"workflow templates file {path} must hold a YAML list of templates, "
                         f"not {type(data).__name__}")
    templates: list[WorkflowTemplate] = []
    seen: set[str] = set()
    for index, entry in enumerate(data):
        label = _label(entry, index)
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {label} must be a mapping, not {type(entry).__name__}")
        try:
            template = WorkflowTemplate.model_validate(entry)
        except ValidationError as exc:
            raise ValueError(f"{path}: {label} is malformed: {_problems(exc)}") from exc
        if template.template_id in seen:
            raise ValueError(f"{path}: {label} repeats template_id {template.template_id!r}")
        seen.add(template.template_id)
        templates.append(template)
    return tuple(templates)


def _label(entry: Any, index: int) -> str:
    """How an error names a template: its id when it has one, else its position in the file."""
    template_id = entry.get("template_id") if isinstance(entry, dict) else None
    return f"template {template_id!r} (entry {index + 1})" if template_id else f"template entry {index + 1}"


def _problems(exc: ValidationError) -> str:
    """Pydantic's errors in one line: ``steps.2.config.offset_days: Input should be a valid string; ...``."""
    return "; ".join(f"{'.'.join(str(part) for part in error['loc']) or '(template)'}: {error['msg']}"
                     for error in exc.errors())
