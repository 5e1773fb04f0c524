"""Request bodies checked against the official OpenAI JSON Schemas.

:class:`~.validator.BodyValidator` checks bodies (:mod:`.validator`) and :mod:`.messages` turns
an error tree into one line. The shipped schemas in ``openai/`` are extracted from the OpenAI
OpenAPI spec by :mod:`.extract`, run as ``python -m knime_llm.validation.spec`` (:mod:`.spec`);
:mod:`.documents` reads the spec or schema files users give instead.
"""

from .validator import BodyValidator, shipped_schema

__all__ = ["BodyValidator", "shipped_schema"]
