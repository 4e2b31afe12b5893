"""Which channels hear about which alert event, and in which language."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.alert import Alert
from alerts.settings import AlertSettings, RouteSettings, severity_rank

# Events a channel receives unless its `events` setting says otherwise: MQTT carries the whole
# event stream (dashboards need acknowledgements too); people are told less.
DEFAULT_EVENTS = {
    "mqtt": ("fired", "upgraded", "renotify", "escalated", "resolved", "acknowledged"),
    "other": ("fired", "upgraded", "renotify", "escalated", "resolved"),
}


@dataclass(frozen=True, slots=True)
class Target:
    """One delivery: the channel, the route it came from, its failover and language."""

    route: str
    channel: str
    failover: str | None
    lang: str


def matching_routes(alert: Alert, settings: AlertSettings) -> list[tuple[str, RouteSettings]]:
    """Ordinary (non escalation-only) routes whose match covers the alert."""
    return [
        (name, route)
        for name, route in settings.effective_routes.items()
        if not route.escalation_only and _matches(route, alert)
    ]


def can_escalate(alert: Alert, settings: AlertSettings) -> bool:
    return any(route.escalate_to for _, route in matching_routes(alert, settings))


def targets(
    alert: Alert, event: str, settings: AlertSettings, default_lang: str | None = None
) -> list[Target]:
    """Deliveries for one event; a channel reached by several routes gets it once."""
    routes = matching_routes(alert, settings)
    if event == "escalated":
        routes = [
            (route.escalate_to, settings.effective_routes[route.escalate_to])
            for _, route in routes
            if route.escalate_to
        ]
    elif event in ("resolved", "acknowledged", "upgraded") and alert.escalated_at is not None:
        # Whoever was escalated to also hears how the episode goes on and ends.
        routes = routes + [
            (route.escalate_to, settings.effective_routes[route.escalate_to])
            for _, route in routes
            if route.escalate_to
        ]
    seen: set[str] = set()
    result: list[Target] = []
    for route_name, route in routes:
        for channel_name in route.channels:
            channel = settings.channels[channel_name]
            events = channel.events or DEFAULT_EVENTS.get(channel.type, DEFAULT_EVENTS["other"])
            if event not in events or channel_name in seen:
                continue
            seen.add(channel_name)
            lang = channel.lang or route.lang or default_lang or settings.lang
            result.append(Target(route_name, channel_name, route.failover, lang))
    return result


def _matches(route: RouteSettings, alert: Alert) -> bool:
    return (
        (not route.plants or alert.plant in route.plants)
        and (not route.clusters or alert.cluster in route.clusters)
        and (not route.stations or alert.station in route.stations)
        and (not route.kinds or alert.kind in route.kinds)
        and severity_rank(alert.severity) >= severity_rank(route.min_severity)
    )
