"""The "OpenAI Configuration" port: an endpoint's settings without its key.

The spec is all there is: the port object adds nothing, so downstream nodes can configure from
the spec alone. It names the KNIME credentials flow variable that holds the key; the key itself is
read with ``get_credentials`` only when a node executes, so it is never stored in a workflow.
"""

from __future__ import annotations

from typing import Any

import knime.extension as knext

from ..errors import ConfigError
from ..settings import ApiConfig, Connection, Flavor


class OpenAIConfigSpec(knext.PortObjectSpec):
    """Spec of the OpenAI Configuration port: an :class:`~knime_llm.settings.ApiConfig` as JSON."""

    def __init__(self, config: ApiConfig) -> None:
        self.config = config

    def serialize(self) -> dict:
        """The configuration as a JSON-serialisable dict (no secret in it)."""
        return self.config.to_dict()

    @classmethod
    def deserialize(cls, data: dict, java_callback: Any = None) -> OpenAIConfigSpec:
        """Rebuild the spec from :meth:`serialize`'s dict."""
        return cls(ApiConfig.from_dict(data))

    def connection(self, ctx: Any) -> Connection:
        """The connection with the key read from the credentials flow variable (execute only).

        Raises:
            knext.InvalidParametersError: the credentials are missing or empty.
        """
        return self.config.with_key(read_key(ctx, self.config))


class OpenAIConfigObject(knext.PortObject):
    """Port object of the OpenAI Configuration port; everything lives in its spec."""

    def serialize(self) -> bytes:
        """Nothing beyond the spec is stored."""
        return b""

    @classmethod
    def deserialize(cls, spec: OpenAIConfigSpec, storage: bytes) -> OpenAIConfigObject:
        """Rebuild the object from its spec."""
        return cls(spec)


CONFIG_PORT = knext.port_type("OpenAI Configuration", OpenAIConfigObject, OpenAIConfigSpec,
                              id="knime_llm.OpenAIConfiguration")


def check_credentials(ctx: Any, config: ApiConfig) -> None:
    """Fail configure early when the flavor needs a key and the credentials are not there.

    Raises:
        knext.InvalidParametersError: no credentials chosen, or the chosen ones do not exist.
    """
    if config.connection.flavor is Flavor.NO_AUTH:
        return
    name = config.credential_name
    if not name:
        raise knext.InvalidParametersError(
            "no credentials chosen: select the credentials flow variable whose password is the API key "
            "(or choose the flavor 'OpenAI-compatible, no key' for a local server)")
    if name not in ctx.get_credential_names():
        raise knext.InvalidParametersError(
            f"the credentials '{name}' are not available; provide them with a Credentials Configuration "
            "node, or choose other credentials in the OpenAI Connector")


def read_key(ctx: Any, config: ApiConfig) -> str | None:
    """The API key from the credentials flow variable named in the config (None without auth).

    Raises:
        knext.InvalidParametersError: the credentials are missing or hold no password.
    """
    if config.connection.flavor is Flavor.NO_AUTH:
        return None
    check_credentials(ctx, config)
    try:
        key = (ctx.get_credentials(config.credential_name).password or "").strip()
    except KeyError:
        raise knext.InvalidParametersError(f"the credentials '{config.credential_name}' are not available") from None
    if not key:
        raise knext.InvalidParametersError(
            f"the credentials '{config.credential_name}' have an empty password; put the API key there")
    return key


def config_error(err: ConfigError) -> knext.InvalidParametersError:
    """An engine settings error as KNIME's error for bad settings."""
    return knext.InvalidParametersError(str(err))
