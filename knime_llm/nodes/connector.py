"""The OpenAI Connector node: where the API is, how to authenticate, how fast to go."""

from __future__ import annotations

from typing import Any

import knime.extension as knext

from ..errors import ConfigError
from ..http.models import list_models
from ..settings import (
    DEFAULT_BASE_URL,
    ApiConfig,
    Connection,
    Flavor,
    RateLimits,
    RetryPolicy,
    RunOptions,
    parse_header,
)
from . import CATEGORY
from .ports import CONFIG_PORT, OpenAIConfigObject, OpenAIConfigSpec, check_credentials, config_error


class FlavorOption(knext.EnumParameterOptions):
    OPENAI = ("OpenAI", "OpenAI and compatible services that take the key as `Authorization: Bearer <key>`.")
    AZURE = ("Azure OpenAI", "Azure OpenAI: the key goes in an `api-key` header, with an `api-version` "
                             "query parameter for deployment URLs.")
    NO_AUTH = ("OpenAI-compatible, no key", "Local servers (llama.cpp, vLLM, Ollama, LM Studio, ...): no key "
                                            "is sent.")


def _credential_names(ctx: Any) -> list[str]:
    return ctx.get_credential_names() if ctx is not None else []


@knext.parameter_group(label="Timeouts, retries and rate limits", is_advanced=True)
class Throughput:
    """How many requests go at once, how long to wait, how often to retry."""

    concurrency = knext.IntParameter(
        "Concurrent requests", "How many requests are in flight at once; a new one starts as soon as one "
        "finishes. Local servers that answer one at a time want 1.", RunOptions.concurrency,
        min_value=1, max_value=4096)
    max_retries = knext.IntParameter(
        "Retries per row", "Retries after 408, 409, 429, 5xx, timeouts and connection errors.",
        RetryPolicy.max_retries, min_value=0, max_value=100)
    max_wait = knext.DoubleParameter(
        "Maximum wait per row (s)", "A row fails when its retries have waited this long, or when the server "
        "asks for a longer wait (a daily quota, say).", RetryPolicy.max_wait_s, min_value=0.0)
    requests_per_minute = knext.DoubleParameter(
        "Requests per minute", "Budget kept on our side, so the server's limit is not hit; 0 for none.",
        0.0, min_value=0.0)
    tokens_per_minute = knext.DoubleParameter(
        "Tokens per minute", "Token budget kept on our side (estimated, then corrected by the usage the "
        "server reports); 0 for none.", 0.0, min_value=0.0)
    connect_timeout = knext.DoubleParameter(
        "Connect timeout (s)", "How long to wait for a connection.", Connection.connect_timeout_s, min_value=0.1)
    read_timeout = knext.DoubleParameter(
        "Read timeout (s)", "How long to wait for an answer; long answers from slow models need more.",
        Connection.read_timeout_s, min_value=0.1)
    verify_tls = knext.BoolParameter(
        "Verify TLS certificates", "Turn off only for a test server with a self-signed certificate.", True)
    ca_bundle = knext.StringParameter(
        "CA bundle file", "A PEM file of certificate authorities to trust (corporate proxies); empty uses "
        "the system's.", "")


@knext.node("OpenAI Connector", knext.NodeType.SOURCE, "icons/connector.png", CATEGORY)
@knext.output_port("OpenAI Configuration", "Where and how to reach the API, without the key.", CONFIG_PORT)
class OpenAIConnector:
    """Connects to OpenAI, Azure OpenAI or an OpenAI-compatible server.

    Sets up the endpoint that **Create Chat Completion** and **Create Completion** send their requests
    to: the base URL, how the key is sent, extra headers, timeouts, retries and rate limits.

    The API key comes from a **credentials flow variable** (for example from a *Credentials
    Configuration* node): its password is the key. The key is never stored in the workflow or in
    the output port: the port names the credentials, and the key is read when a node executes.

    With **Check the connection** on, executing this node asks the server for its models
    (`GET /models`) and fails with a clear message for a wrong key or URL; the models are put
    into the list flow variable `llm_models`. The check waits at most the connect plus the read
    timeout, and stops at once when the node is cancelled. The request nodes' dialogs offer the
    same list as their model dropdown.
    """

    base_url = knext.StringParameter(
        "Base URL", "The API's base URL, usually ending in /v1 (e.g. https://api.openai.com/v1, "
        "http://localhost:8000/v1; for Azure: https://<resource>.openai.azure.com/openai/deployments/<name> "
        "or .../openai/v1).", DEFAULT_BASE_URL)
    flavor = knext.EnumParameter("API flavor", "How the key is sent.", FlavorOption.OPENAI.name, FlavorOption,
                                 style=knext.EnumParameter.Style.DROPDOWN)
    credentials = knext.StringParameter(
        "Credentials", "The credentials flow variable whose password is the API key.", "",
        choices=_credential_names).rule(knext.OneOf(flavor, [FlavorOption.NO_AUTH.name]), knext.Effect.HIDE)
    api_version = knext.StringParameter(
        "Azure API version", "The api-version query parameter; empty uses 2024-10-21 for deployment URLs and "
        "none for .../openai/v1.", "").rule(knext.OneOf(flavor, [FlavorOption.AZURE.name]), knext.Effect.SHOW)
    organization = knext.StringParameter("Organization", "Sent as OpenAI-Organization; empty sends none.", "")
    project = knext.StringParameter("Project", "Sent as OpenAI-Project; empty sends none.", "")
    headers = knext.MultilineStringParameter(
        "Extra headers", "One `Name: value` per line, sent with every request.", "", number_of_lines=3)
    check_connection = knext.BoolParameter(
        "Check the connection", "On execute, list the server's models (into the list flow variable "
        "llm_models) to catch a wrong key or URL early. Turn off for servers without /models.", True)
    throughput = Throughput()

    def configure(self, ctx: knext.ConfigurationContext) -> OpenAIConfigSpec:
        """Check the settings and return the configuration spec."""
        config = self._config()
        check_credentials(ctx, config)
        return OpenAIConfigSpec(config)

    def execute(self, ctx: knext.ExecutionContext) -> OpenAIConfigObject:
        """Optionally check the connection, then pass the configuration on.

        The check gives up after the connect plus read timeout and stops within a tenth of a
        second when the node is cancelled.
        """
        spec = OpenAIConfigSpec(self._config())
        if self.check_connection:
            connection = spec.connection(ctx)
            try:
                models = list_models(connection, deadline_s=connection.connect_timeout_s + connection.read_timeout_s,
                                     cancelled=ctx.is_canceled)
            except ConfigError as err:
                raise config_error(err) from None
            ctx.flow_variables["llm_models"] = models
        return OpenAIConfigObject(spec)

    def _config(self) -> ApiConfig:
        t = self.throughput
        try:
            connection = Connection(
                base_url=self.base_url.strip(), flavor=Flavor[self.flavor],
                api_version=self.api_version.strip() or None, organization=self.organization.strip() or None,
                project=self.project.strip() or None,
                headers=tuple(parse_header(line) for line in self.headers.splitlines() if line.strip()),
                connect_timeout_s=t.connect_timeout, read_timeout_s=t.read_timeout,
                verify_tls=t.verify_tls, ca_bundle=t.ca_bundle.strip() or None)
            return ApiConfig(connection, self.credentials if connection.flavor is not Flavor.NO_AUTH else "",
                             t.concurrency, RetryPolicy(max_retries=t.max_retries, max_wait_s=t.max_wait),
                             RateLimits(t.requests_per_minute or None, t.tokens_per_minute or None))
        except ConfigError as err:
            raise config_error(err) from None
