"""Carrier accounts: karrio connectors, a simulated carrier, and marketplace label downloads.

:func:`build_carriers` turns the ``[carriers.<CODE>]`` sections of the config into the
``services.carriers.Carriers`` registry the use cases work with.
"""

from __future__ import annotations

from collections.abc import Iterable

from packstation.config import CARRIER_CONNECTOR_SIMULATED, CarrierConfig
from packstation.services.carriers import CarrierPort, Carriers


def build_carriers(configs: Iterable[CarrierConfig], *, account_country: str = "DE") -> Carriers:
    """The station's carrier accounts (*account_country*: where the warehouse ships from)."""
    from packstation.adapters.carriers.marketplace import MarketplaceLabels

    accounts: dict[str, CarrierPort] = {}
    for cfg in configs:
        if cfg.connector == CARRIER_CONNECTOR_SIMULATED:
            from packstation.adapters.carriers.simulated import SimulatedCarrier

            accounts[cfg.code] = SimulatedCarrier(cfg)
        else:
            from packstation.adapters.carriers.karrio_carrier import KarrioCarrier

            accounts[cfg.code] = KarrioCarrier(cfg, account_country=account_country)
    return Carriers(accounts=accounts, marketplace=MarketplaceLabels())


__all__ = ["build_carriers"]
