"""Which track is judged against which: roles from where the traffic goes, not from a track's name or colour.

In a canary the stable track is the baseline and the canary the candidate. In blue/green the baseline is the
environment the active Service selects (Argo's `activeService`, else a Service labelled `role: active`, else the
rollout's Service that is not a `-preview` one) and the candidate the other colour: the new colour alternates
every release, so "green is the candidate" is wrong every other time. A standby (the preview before the switch,
the old active after it) serves no production traffic by design, and a track whose pods declare no container
port (a worker) serves no HTTP: neither is expected to show traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from tui.kube.objects import meta as _meta

BLUE_GREEN_PAIRS = (("active", "preview"), ("blue", "green"))


@dataclass(frozen=True)
class Roles:
    baseline: str | None = None
    candidate: str | None = None
    standby: frozenset[str] = frozenset()  # serve no production traffic by design
    no_http: frozenset[str] = frozenset()  # their pods declare no container port: nothing to measure
    strategy: str = ""  # canary | bluegreen | ""
    active_service: str | None = None  # blue/green: the Service whose selection decided the baseline
    why: str = ""

    @property
    def quiet(self) -> frozenset[str]:
        """Tracks that are not expected to serve requests."""
        return self.standby | self.no_http


def _selects(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def _live(pod: dict) -> bool:
    return not _meta(pod).get("deletionTimestamp") and (pod.get("status") or {}).get("phase") not in (
        "Succeeded", "Failed")


def _declares_ports(pod: dict) -> bool:
    return any(c.get("ports") for c in (pod.get("spec") or {}).get("containers") or ())


def traffic_roles(pods: Iterable[dict], track_of, services: Iterable[dict], *, active_service: str | None = None,
                  preview_service: str | None = None) -> Roles:
    """Roles for the rollout's `pods` (track_of(pod) -> track) given the namespace's `services`."""
    by_track: dict[str, list[dict]] = {}
    for p in pods:
        t = track_of(p)
        if t is not None and _live(p):
            by_track.setdefault(t, []).append(p)
    no_http = frozenset(t for t, ps in by_track.items() if ps and not any(_declares_ports(p) for p in ps))
    tracks = set(by_track)
    if "primary" in tracks:  # Flagger: the primary serves production, the canary is under analysis
        return Roles("primary", "canary" if "canary" in tracks else None, frozenset(), no_http, "canary", None,
                     "primary is the baseline, canary the candidate (Flagger)")
    if "canary" in tracks or "stable" in tracks:
        return Roles("stable" if "stable" in tracks else None, "canary" if "canary" in tracks else None,
                     frozenset(), no_http, "canary", None, "stable is the baseline, canary the candidate")
    pair = next((p for p in BLUE_GREEN_PAIRS if tracks & set(p)), None)
    if pair is None:
        return Roles(None, None, frozenset(), no_http, "", None, "")
    services = list(services)
    by_name = {_meta(s).get("name", ""): s for s in services}

    def carried(svc: dict) -> list[str]:
        sel = (svc.get("spec") or {}).get("selector") or {}
        return [t for t in pair if any(_selects(sel, _meta(p).get("labels")) for p in by_track.get(t, ()))]

    candidates: list[dict] = []
    if active_service and active_service in by_name:
        candidates = [by_name[active_service]]
    else:
        labelled = [s for s in services if (_meta(s).get("labels") or {}).get("role") == "active"]
        others = [s for s in services if _meta(s).get("name") != preview_service
                  and (_meta(s).get("labels") or {}).get("role") != "preview"
                  and not _meta(s).get("name", "").endswith("-preview")]
        candidates = labelled + [s for s in others if s not in labelled]
    for svc in candidates:
        got = carried(svc)
        if len(got) == 1:
            base = got[0]
            cand = next(t for t in pair if t != base)
            name = _meta(svc).get("name", "")
            return Roles(base, cand if cand in tracks else None, frozenset({cand}) & tracks, no_http, "bluegreen",
                         name, f"Service {name} sends traffic to {base}: {base} is the baseline, "
                               f"{cand} the standby")
    # nothing selects exactly one colour (an outage, or both selected): the conventional roles, no standby
    base, cand = pair
    return Roles(base if base in tracks else None, cand if cand in tracks else None, frozenset(), no_http,
                 "bluegreen", None, "no Service selects one environment alone")
