"""The offline LLM: a litellm custom provider that answers structured requests with embeddings and rules.

Registered under the ``auterity-local`` prefix through ``litellm.custom_provider_map``, so a local answer goes
through the same Router, retries, fallbacks, callbacks and cost accounting as a hosted model. Each structured
task (the ``json_schema`` name of the request) is answered by a handler the worker registers.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError

PROVIDER = "auterity-local"

LocalHandler = Callable[[str], "str | Awaitable[str]"]  # the request's last user message -> a JSON answer


class LocalProvider(CustomLLM):
    """Dispatches a structured request to the handler of its task; an unknown task is a clear 400."""

    def __init__(self, handlers: Mapping[str, LocalHandler] | None = None) -> None:
        super().__init__()
        self.handlers: dict[str, LocalHandler] = dict(handlers or {})

    def register(self, task: str, handler: LocalHandler) -> None:
        self.handlers[task] = handler

    async def acompletion(self, model: str, messages: list[dict[str, Any]], *args: Any,
                          optional_params: dict[str, Any] | None = None, **kwargs: Any) -> litellm.ModelResponse:
        task = _task_of(optional_params or {})
        handler = self.handlers.get(task or "")
        if handler is None:
            raise CustomLLMError(  # type: ignore[no-untyped-call]
                status_code=400, message=f"the local model answers structured requests for "
                                 f"{sorted(self.handlers)}; this request asks for {task or 'free text'}")
        prompt = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
        answer = handler(prompt)
        content = await answer if inspect.isawaitable(answer) else answer
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
        return litellm.ModelResponse(
            model=f"{PROVIDER}/{model}", choices=[{"message": {"role": "assistant", "content": content}}],
            usage={"prompt_tokens": prompt_tokens, "completion_tokens": len(content.split()),
                   "total_tokens": prompt_tokens + len(content.split())})

    def completion(self, *args: Any, **kwargs: Any) -> litellm.ModelResponse:
        raise CustomLLMError(  # type: ignore[no-untyped-call]
            status_code=400, message="the local model is asynchronous: use acompletion")


def _task_of(optional_params: Mapping[str, Any]) -> str | None:
    response_format = optional_params.get("response_format")
    if isinstance(response_format, str):
        response_format = json.loads(response_format)
    if isinstance(response_format, Mapping):
        schema = response_format.get("json_schema")
        if isinstance(schema, Mapping):
            return str(schema.get("name"))
    return None
