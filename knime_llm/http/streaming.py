"""Assembling a streamed (server-sent events) response into the response a non-streamed call gives.

A body with ``"stream": true`` makes the server answer with ``data: {chunk}`` lines. The row's
``body`` should still be one JSON response, so the chunks are merged: text deltas concatenated,
tool-call argument fragments joined by index, the last ``finish_reason`` and ``usage`` kept.
"""

from __future__ import annotations

from typing import Any

import orjson


class StreamAssembler:
    """Collects SSE lines and builds the final chat or text completion.

    Feed every line with :meth:`feed`; read :meth:`result` at the end. An ``error`` object sent
    inside the stream is kept as :attr:`error` and becomes the result.
    """

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: Any = None
        self.error: Any = None
        self.chunks = 0
        self._data: list[str] = []
        self.done = False

    def feed(self, line: str) -> None:
        """Take one line of the event stream (without or with its line ending)."""
        line = line.rstrip("\r\n")
        if not line:
            self._dispatch()
        elif line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))
        # "event:", "id:", "retry:" and ":" comment lines carry nothing we need.

    def close(self) -> None:
        """Flush an event that was not followed by a blank line."""
        self._dispatch()

    def _dispatch(self) -> None:
        if not self._data:
            return
        data = "\n".join(self._data)
        self._data = []
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return  # a keep-alive or a server's debug line: nothing to merge
        if not isinstance(chunk, dict):
            return
        if "error" in chunk:
            self.error = chunk
            return
        self.chunks += 1
        self._merge(chunk)

    def _merge(self, chunk: dict[str, Any]) -> None:
        for key in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(key) is not None:
                self.meta[key] = chunk[key]
        if chunk.get("object"):
            self.meta["object"] = chunk["object"]
        if chunk.get("usage") is not None:
            self.usage = chunk["usage"]
        for delta_choice in chunk.get("choices") or ():
            index = delta_choice.get("index", 0)
            choice = self.choices.setdefault(index, {"index": index})
            if delta_choice.get("finish_reason") is not None:
                choice["finish_reason"] = delta_choice["finish_reason"]
            if delta_choice.get("logprobs") is not None:
                _merge_logprobs(choice, delta_choice["logprobs"])
            if "text" in delta_choice:  # legacy completions
                choice["text"] = choice.get("text", "") + (delta_choice["text"] or "")
            delta = delta_choice.get("delta")
            if isinstance(delta, dict):
                _merge_delta(choice.setdefault("message", {}), delta)

    def result(self) -> dict[str, Any]:
        """The assembled response (or the stream's error object)."""
        if self.error is not None:
            return self.error
        chat = any("message" in c for c in self.choices.values()) or \
            str(self.meta.get("object", "")).startswith("chat")
        response: dict[str, Any] = {
            "id": self.meta.get("id"),
            "object": "chat.completion" if chat else "text_completion",
            "created": self.meta.get("created"),
            "model": self.meta.get("model"),
        }
        for key in ("system_fingerprint", "service_tier"):
            if key in self.meta:
                response[key] = self.meta[key]
        choices = []
        for index in sorted(self.choices):
            choice = self.choices[index]
            out: dict[str, Any] = {"index": index}
            if chat:
                message = choice.get("message", {})
                message.setdefault("role", "assistant")
                message.setdefault("content", None)
                if "tool_calls" in message:
                    message["tool_calls"] = [message["tool_calls"][k] for k in sorted(message["tool_calls"])]
                out["message"] = message
            else:
                out["text"] = choice.get("text", "")
            out["logprobs"] = choice.get("logprobs")
            out["finish_reason"] = choice.get("finish_reason")
            choices.append(out)
        response["choices"] = choices
        if self.usage is not None:
            response["usage"] = self.usage
        return response


def _merge_delta(message: dict[str, Any], delta: dict[str, Any]) -> None:
    for key, value in delta.items():
        if value is None:
            continue
        if key in ("content", "refusal", "reasoning_content"):
            message[key] = (message.get(key) or "") + value
        elif key == "tool_calls":
            calls = message.setdefault("tool_calls", {})
            for part in value:
                call = calls.setdefault(part.get("index", len(calls)), {})
                for field in ("id", "type"):
                    if part.get(field):
                        call[field] = part[field]
                function = part.get("function") or {}
                target = call.setdefault("function", {"name": "", "arguments": ""})
                target["name"] += function.get("name") or ""
                target["arguments"] += function.get("arguments") or ""
        else:
            message[key] = value


def _merge_logprobs(choice: dict[str, Any], logprobs: Any) -> None:
    if not isinstance(logprobs, dict):
        choice["logprobs"] = logprobs
        return
    merged = choice.setdefault("logprobs", {})
    for key, value in logprobs.items():
        if isinstance(value, list):
            merged.setdefault(key, []).extend(value)
        else:
            merged[key] = value
