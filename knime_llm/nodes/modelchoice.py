"""The model of the Simple body mode: one of the server's models, or a name typed by hand.

KNIME 5.5 has no field that is both a dropdown and free text: a ``StringParameter`` with
``choices`` is a dropdown only (an empty list even shows "No values present"), and the dialog can
show no message of its own. So the setting is three parameters: a switch between *the server's
list* and *a typed name*, a dropdown filled from ``GET /models`` when the dialog opens (with the key
from the credentials the OpenAI Connector names), and a text field. When the list cannot be had,
the dropdown's only entry says why; picking that entry is refused at configure time.

The listing runs in the dialog, so it is bounded (:data:`DIALOG_DEADLINE_S`) and never raises.
"""

from __future__ import annotations

import logging
from typing import Any

import knime.extension as knext

from ..errors import ConfigError
from ..http.models import list_models
from .ports import OpenAIConfigSpec

#: Longest the dialog waits for the server's model list.
DIALOG_DEADLINE_S = 5.0
#: How the dropdown's message entries start (a model id never does).
NOTE = "⚠ "
_LOG = logging.getLogger(__name__)


class ModelFrom(knext.EnumParameterOptions):
    SERVER = ("Server's list", "Pick one of the models the connected server lists (fetched when the dialog "
                               "opens).")
    NAME = ("Type a name", "Type the model name, for servers that list no models or a model they do not list.")


def _model_from_default(version: knext.Version) -> str:
    # Workflows saved before the list existed keep using the name they typed.
    return ModelFrom.SERVER.name if version >= knext.Version(0, 2, 0) else ModelFrom.NAME.name


def model_switch() -> knext.EnumParameter:
    """The switch between the server's list and a typed name."""
    return knext.EnumParameter("Model from", "Where the model name comes from.", _model_from_default, ModelFrom,
                               since_version="0.2.0", style=knext.EnumParameter.Style.VALUE_SWITCH)


def model_dropdown(default: str) -> knext.StringParameter:
    """The dropdown of the server's models."""
    return knext.StringParameter(
        "Model", "One of the models the server lists (GET /models, with the key of the connector's credentials, "
        "asked when the dialog opens). If the list cannot be had, the dropdown says why: choose 'Type a name' "
        "then.", default, choices=server_models, since_version="0.2.0")


def model_name_field(default: str) -> knext.StringParameter:
    """The model name typed by hand."""
    return knext.StringParameter("Model name", "The model name sent with every request (for Azure: any name; "
                                 "the deployment in the base URL decides).", default)


def chosen_model(body: Any) -> str:
    """The model a Simple-mode body sends.

    Raises:
        ConfigError: the dropdown holds one of its messages rather than a model.
    """
    if body.model_from == ModelFrom.NAME.name:
        return body.model
    if body.listed_model.startswith(NOTE):
        raise ConfigError(f"no model chosen ({body.listed_model.removeprefix(NOTE)}); choose a model, "
                          "or switch 'Model from' to 'Type a name'")
    return body.listed_model


def server_models(ctx: Any) -> list[str]:
    """The dropdown's entries: the connected server's models, sorted, or one entry saying why not.

    Called by KNIME while it builds the dialog (``ctx`` is the ``DialogCreationContext``, None
    when KNIME reads the node description); never raises.
    """
    if ctx is None:
        return []
    specs = ctx.get_input_specs()
    spec = specs[0] if specs else None
    if not isinstance(spec, OpenAIConfigSpec):
        return [NOTE + "connect and configure an OpenAI Connector to list its models"]
    try:
        models = list_models(spec.connection(ctx), deadline_s=_deadline(spec))
    except (ConfigError, knext.InvalidParametersError) as err:
        return [NOTE + f"the models could not be listed: {err}"]
    except Exception as err:  # a dialog must open whatever happens; the log keeps the detail
        _LOG.warning("listing the models failed: %s", type(err).__name__)
        return [NOTE + f"the models could not be listed ({type(err).__name__})"]
    return sorted(set(models)) or [NOTE + "the server lists no models"]


def _deadline(spec: OpenAIConfigSpec) -> float:
    connection = spec.config.connection
    return min(DIALOG_DEADLINE_S, connection.connect_timeout_s + connection.read_timeout_s)
