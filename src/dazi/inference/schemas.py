"""Request bodies of the OpenAI-compatible API, validated with pydantic; errors name the parameter.

Unknown fields are ignored (clients send ``user``, ``metadata``…); fields that would change the answer
but are not supported (``n`` > 1, ``logprobs``, ``tools``, penalties, a JSON ``response_format``) are
refused with 400 rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dazi.inference.errors import InvalidParameter

T = TypeVar("T", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StreamOptions(_Body):
    include_usage: bool = False


class ContentPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None


class _Sampling(_Body):
    model: str
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, ge=0.0, le=1.0)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1)
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[str, float] | None = None

    def bias_list(self, vocab_size: int) -> tuple[tuple[int, float], ...]:
        out = []
        for key, value in (self.logit_bias or {}).items():
            if not key.isdigit() or int(key) >= vocab_size or not -100 <= value <= 100:
                raise InvalidParameter(
                    f"logit_bias maps token ids (0 to {vocab_size - 1}) to values from -100 to 100; "
                    f"got {key[:20]!r}: {value}.", "logit_bias"
                )
            out.append((int(key), float(value)))
        return tuple(out)

    def stop_list(self) -> tuple[str, ...]:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        if len(stops) > 4:
            raise InvalidParameter("At most 4 stop sequences are allowed.", "stop")
        return tuple(s for s in stops if s)

    def check_supported(self) -> None:
        if self.n != 1:
            raise InvalidParameter("Only n=1 is supported by this hub.", "n", "unsupported_value")
        if self.presence_penalty or self.frequency_penalty:
            raise InvalidParameter(
                "presence_penalty and frequency_penalty are not supported by this hub.", "presence_penalty",
                "unsupported_value",
            )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    logprobs: bool | None = None
    tools: list[Any] | None = None
    response_format: dict[str, Any] | None = None

    def check_supported(self) -> None:
        super().check_supported()
        if self.logprobs:
            raise InvalidParameter("logprobs are not supported by this hub.", "logprobs", "unsupported_value")
        if self.tools:
            raise InvalidParameter("Tool calls are not supported by this hub.", "tools", "unsupported_value")
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            raise InvalidParameter("Only the text response_format is supported.", "response_format",
                                   "unsupported_value")

    def asked_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    def plain_messages(self) -> list[dict[str, str]]:
        out = []
        for i, message in enumerate(self.messages):
            content = message.content
            if isinstance(content, list):
                if any(part.type != "text" for part in content):
                    raise InvalidParameter("Only text content parts are supported.", f"messages.[{i}].content",
                                           "unsupported_value")
                content = "".join(part.text or "" for part in content)
            out.append({"role": message.role, "content": content or ""})
        return out


class CompletionRequest(_Sampling):
    prompt: str | list[str] | list[int]
    max_tokens: int | None = Field(default=16, ge=1)
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None

    def check_supported(self) -> None:
        super().check_supported()
        for name in ("echo", "logprobs", "suffix"):
            if getattr(self, name):
                raise InvalidParameter(f"{name} is not supported by this hub.", name, "unsupported_value")
        if self.best_of not in (None, 1):
            raise InvalidParameter("best_of is not supported by this hub.", "best_of", "unsupported_value")
        if isinstance(self.prompt, list) and self.prompt and isinstance(self.prompt[0], str) and len(self.prompt) != 1:
            raise InvalidParameter("Only one prompt per request is supported.", "prompt", "unsupported_value")

    def asked_tokens(self) -> int | None:
        return self.max_tokens


class EmbeddingRequest(_Body):
    model: str
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)

    def texts(self) -> list[str]:
        texts = [self.input] if isinstance(self.input, str) else list(self.input)
        if not texts:
            raise InvalidParameter("input must not be empty.", "input")
        if any(not t for t in texts):
            raise InvalidParameter("input must not contain empty strings.", "input")
        return texts


def parse(model: type[T], body: dict[str, Any]) -> T:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first.get("loc", ()))
        raise InvalidParameter(f"Invalid value for '{param}': {first.get('msg')}.", param or None) from None
