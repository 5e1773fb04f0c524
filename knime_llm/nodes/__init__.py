"""The KNIME node layer: ports, parameters and the three nodes, as thin adapters over the engine.

Only this subpackage imports ``knime.extension``. Node modules declare ports, parameters and
descriptions and map them onto the engine's settings; every decision (templating, validation,
HTTP, retries, parsing) is made by the engine.
"""

import knime.extension as knext

CATEGORY = knext.category(
    path="/community",
    level_id="knime_llm",
    name="OpenAI LLM (knime-llm)",
    description="Send a table of prompts to OpenAI-compatible APIs: one validated request and one "
                "response row per input row.",
    icon="icons/category.png",
)
