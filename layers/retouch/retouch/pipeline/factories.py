"""How each kind of provider is built from its `provider_configs` row: endpoint, options
(validated by the kind's options model) and credentials (resolved from `credential_ref`).

Adapter modules are imported by the factory that needs them, so a step function loads only
the adapters its chains use. A factory that raises makes the provider unavailable for now
(`sources.ConfiguredProviders` logs why and the chain moves on).
"""

from __future__ import annotations

from retouch.catalog.schemas import ProviderRead
from retouch.core.settings import get_settings
from retouch.pipeline.sources import Factory
from retouch.providers.credentials import resolve_credentials
from retouch.providers.destinations import DestinationPolicy, refused_destinations
from retouch.providers.options import options_model
from retouch.providers.port import Provider


def _local(config: ProviderRead) -> Provider:
    from retouch.providers.local.provider import LocalProvider

    return LocalProvider()


def _simulator(config: ProviderRead) -> Provider:
    from retouch.providers.simulator import SimulatorProvider

    settings = get_settings()
    return SimulatorProvider(
        base_url=config.endpoint or "http://127.0.0.1:8900",
        api_key=settings.simulator_api_key.get_secret_value(),
        callback_secret=settings.simulator_callback_secret.get_secret_value(),
    )


def _runninghub(config: ProviderRead) -> Provider:
    from retouch.providers.runninghub import RunningHubProvider
    from retouch.providers.runninghub_options import RunningHubOptions

    return RunningHubProvider(
        endpoint=config.endpoint or "https://www.runninghub.cn",
        api_key=resolve_credentials(config.credential_ref, provider_key=config.key)["api_key"],
        options=RunningHubOptions.model_validate(config.options),
        key=config.key,
    )


def _tencent_cloud(config: ProviderRead) -> Provider:
    from retouch.providers.tencent import HunyuanProvider, TencentProvider

    options = options_model(config.kind).model_validate(config.options)
    if config.endpoint:  # the row's endpoint, when set, overrides the options' (one place)
        options = options.model_copy(update={"endpoint": config.endpoint})
    credentials = resolve_credentials(config.credential_ref, provider_key=config.key)
    adapter = HunyuanProvider if config.kind == "hunyuan" else TencentProvider
    provider: Provider = adapter(
        options,  # type: ignore[arg-type]  # the kind's model, checked above
        secret_id=credentials["secret_id"],
        secret_key=credentials["secret_key"],
        token=credentials.get("token"),
    )
    provider.key = config.key
    return provider


class DestinationRefused(Exception):
    """The row names an endpoint or result host outside its kind's allowlist (written before
    the rule, or by hand): the provider is not built."""


def _within_allowlist(factory: Factory) -> Factory:
    def build(config: ProviderRead) -> Provider:
        policy = DestinationPolicy.from_settings()
        refused = refused_destinations(config.kind, config.endpoint, config.options, policy)
        if refused:
            raise DestinationRefused(f"{config.key}: not allowed: {', '.join(refused)}")
        return factory(config)

    return build


#: The adapters that exist, by provider kind; each checks the row's destinations first.
PROVIDER_FACTORIES: dict[str, Factory] = {
    kind: _within_allowlist(factory)
    for kind, factory in {
        "local": _local,
        "simulator": _simulator,
        "runninghub": _runninghub,
        "tencent": _tencent_cloud,
        "hunyuan": _tencent_cloud,
    }.items()
}
