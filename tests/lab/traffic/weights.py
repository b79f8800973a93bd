"""Where the load generator gets its traffic split from.

The lab reads the live Istio VirtualService, so whatever the Argo controller
(or the console) writes there is what the traffic follows. A fixed map stands
in when there is no cluster. Weights are keyed by destination: the route's
``subset`` if it has one (subset-level splitting), else its ``host``
(host-level splitting, e.g. Argo's stable and canary Services).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, cast

ISTIO_GROUP = "networking.istio.io"
ISTIO_VERSION = "v1"  # served by the pinned Istio CRD next to v1beta1 and v1alpha3


class WeightSource(Protocol):
    def weights(self) -> dict[str, int]:
        """Current weight per destination key; raises if it cannot be read."""
        ...


class FixedWeights:
    def __init__(self, weights: Mapping[str, int]) -> None:
        self._weights = dict(weights)

    def weights(self) -> dict[str, int]:
        return dict(self._weights)


class VirtualServiceWeights:
    """Reads one VirtualService through the Kubernetes API on every call."""

    def __init__(
        self, namespace: str, name: str, kubeconfig: Path, route: str | None = None
    ) -> None:
        # Imported here: the kubernetes package is slow to import and only
        # this source needs it.
        from kubernetes import client, config

        api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self._api = client.CustomObjectsApi(api_client)
        self.namespace = namespace
        self.name = name
        self.route = route

    def weights(self) -> dict[str, int]:
        vs = self._api.get_namespaced_custom_object(
            ISTIO_GROUP, ISTIO_VERSION, self.namespace, "virtualservices", self.name
        )
        return weights_from_virtualservice(cast(dict[str, Any], vs), self.route)


def destination_key(destination: Mapping[str, Any]) -> str:
    subset = destination.get("subset")
    return str(subset) if subset else str(destination["host"])


def weights_from_virtualservice(vs: Mapping[str, Any], route: str | None = None) -> dict[str, int]:
    """The split of the HTTP route plain requests take.

    That is the route named ``route`` if given, else the first one without a
    ``match`` (header-matched routes would not catch the load generator's
    requests), else the first one. Like Istio, a lone destination without a
    weight gets everything; destinations all without weights share equally.
    """
    http = vs.get("spec", {}).get("http") or []
    if not http:
        raise ValueError(f"VirtualService {vs.get('metadata', {}).get('name')} has no http routes")
    if route is not None:
        chosen = next((r for r in http if r.get("name") == route), None)
        if chosen is None:
            raise ValueError(f"VirtualService has no http route named {route!r}")
    else:
        chosen = next((r for r in http if not r.get("match")), http[0])
    destinations = [d["destination"] for d in chosen.get("route") or []]
    raw = [d.get("weight") for d in chosen.get("route") or []]
    if all(w is None for w in raw):
        return {destination_key(d): 100 // len(destinations) for d in destinations}
    return {destination_key(d): int(w or 0) for d, w in zip(destinations, raw, strict=True)}


class SmoothWeightedPicker:
    """Smooth weighted round-robin (as nginx does it).

    Deterministic, so 80/20 weights give exactly 4 of 5 requests to the first
    destination in every window of 5: rates measured in Prometheus then match
    the weights without random noise, and short tests stay reliable.
    """

    def __init__(self) -> None:
        self._weights: dict[str, int] = {}
        self._current: dict[str, int] = {}

    @property
    def weights(self) -> dict[str, int]:
        return dict(self._weights)

    def set(self, weights: Mapping[str, int]) -> bool:
        """Use new weights; returns whether they changed."""
        new = {k: w for k, w in weights.items() if w > 0}
        if new == self._weights:
            return False
        self._weights = new
        self._current = dict.fromkeys(new, 0)
        return True

    def pick(self) -> str | None:
        total = sum(self._weights.values())
        if total == 0:
            return None
        for key, weight in self._weights.items():
            self._current[key] += weight
        best = max(self._current, key=lambda k: self._current[k])
        self._current[best] -= total
        return best
