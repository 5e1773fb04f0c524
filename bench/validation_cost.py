"""Microseconds to validate one typical chat body, with our validator and the alternatives.

Run as a script (in a process of its own); prints one JSON line. Every validator checks the same
body against the schema knime-llm ships (``knime_llm/validation/openai/CreateChatCompletionRequest``), and
its verdicts on the chat sample bodies in ``tests/data/openai_samples`` are compared with the
expected ones, so a fast validator that gets verdicts wrong is visible as such.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "openai_samples" / "requests.json"

#: A typical chat body: what simple mode sends with a system message and a few settings.
BODY: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "Answer in one short sentence."},
        {
            "role": "user",
            "content": "row 17: Summarise this customer review in one short "
            "sentence. The delivery was late, but the support team "
            "sorted it out quickly.",
        },
    ],
    "temperature": 0.2,
    "max_completion_tokens": 256,
}


def per_call_us(check: Callable[[Any], Any], body: Any, budget_s: float = 0.4) -> float:
    """Best of five timed loops, in µs per call; the loops take about ``budget_s`` in all."""
    start = time.perf_counter()
    check(body)
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget_s / 5 / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(loops):
            check(body)
        best = min(best, (time.perf_counter() - start) / loops)
    return best * 1e6


def _samples() -> list[tuple[str, Any, bool]]:
    if not SAMPLES.exists():
        return []
    cases = json.loads(SAMPLES.read_text())["cases"]
    return [
        (c["name"], c["body"], c["valid"]["2026-08-21"])
        for c in cases
        if c["schema"] == "CreateChatCompletionRequest" and "2026-08-21" in c["valid"]
    ]


def _candidates(schema: dict[str, Any]) -> dict[str, tuple[Callable[[Any], bool], str]]:
    """Each validator as (is_valid function, note); compile times are measured on the way."""
    import jsonschema
    import jsonschema_rs

    from knime_llm.settings import Endpoint
    from knime_llm.validation import BodyValidator

    found: dict[str, tuple[Callable[[Any], bool], str]] = {}

    def timed(build: Callable[[], Any]) -> tuple[Any, str]:
        start = time.perf_counter()
        built = build()
        return built, f"compiled in {1000 * (time.perf_counter() - start):.0f} ms"

    ours, note = timed(lambda: BodyValidator.for_endpoint(Endpoint.CHAT))
    found["knime_llm (jsonschema-rs, jsonschema for errors)"] = (
        lambda b: ours.check(b) is None,
        note,
    )
    rs, note = timed(lambda: jsonschema_rs.validator_for(schema, validate_formats=False))
    found["jsonschema-rs"] = (rs.is_valid, note)
    compiled, note = timed(lambda: jsonschema.validators.validator_for(schema)(schema))
    found["jsonschema, compiled validator"] = (compiled.is_valid, note)

    def each_time(body: Any) -> bool:
        try:
            jsonschema.validate(body, schema)
        except jsonschema.ValidationError:
            return False
        return True

    found["jsonschema.validate each time"] = (
        each_time,
        "schema checked and compiled on every call",
    )
    try:
        import fastjsonschema

        fast, note = timed(lambda: fastjsonschema.compile(schema))

        def fast_valid(body: Any) -> bool:
            try:
                fast(body)
            except fastjsonschema.JsonSchemaException:
                return False
            return True

        found["fastjsonschema"] = (
            fast_valid,
            note + "; draft 2020-12 is not among its drafts (4, 6, 7)",
        )
    except Exception as err:
        found["fastjsonschema"] = (None, f"cannot compile the schema: {type(err).__name__}: {err}")  # type: ignore[assignment]
    return found


def measure() -> dict[str, Any]:
    """Per-body microseconds, compile notes and verdict agreement for every validator."""
    from knime_llm.settings import Endpoint
    from knime_llm.validation import BodyValidator, shipped_schema

    schema = shipped_schema(Endpoint.CHAT)
    samples = _samples()
    results: dict[str, Any] = {}
    for name, (is_valid, note) in _candidates(schema).items():
        if is_valid is None:
            results[name] = {"us_per_body": None, "note": note}
            continue
        wrong = [case for case, body, valid in samples if _verdict(is_valid, body) != valid]
        budget = 1.0 if "each time" in name else 0.3
        results[name] = {
            "us_per_body": round(per_call_us(is_valid, BODY, budget), 2),
            "note": note,
            "sample_verdicts": f"{len(samples) - len(wrong)}/{len(samples)} as expected",
            "wrong_on": wrong,
        }
    invalid = dict(BODY, temperature=3)
    ours = BodyValidator.for_endpoint(Endpoint.CHAT)
    results["knime_llm, invalid body (message built by jsonschema)"] = {
        "us_per_body": round(per_call_us(ours.check, invalid), 2),
        "note": ours.check(invalid),
    }
    return results


def _verdict(is_valid: Callable[[Any], bool], body: Any) -> bool | str:
    try:
        return bool(is_valid(body))
    except Exception as err:
        return f"raised {type(err).__name__}"


if __name__ == "__main__":
    print(json.dumps(measure()))
