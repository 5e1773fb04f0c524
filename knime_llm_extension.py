"""The module knime.yml names: KNIME imports it to find the extension's category and nodes.

KNIME puts the folder holding this file (the repository root) on ``sys.path`` and imports it by
name, so ``knime_llm`` imports as a regular package from here.
"""

from knime_llm.nodes import completions, connector  # noqa: F401  (registers the nodes)
