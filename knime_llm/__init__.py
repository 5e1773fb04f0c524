"""knime-llm: send a table of prompts to OpenAI-compatible APIs, one validated request per row.

The engine in this package never imports KNIME; the KNIME nodes in ``knime_llm.nodes`` are thin
adapters over it, and the ``knime-llm`` command line runs the same engine on files.
"""

__version__ = "0.2.0"
