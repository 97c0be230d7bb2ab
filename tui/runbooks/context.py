"""The template values a step is filled with, taken from what Lookout already knows: the session's context and
namespace, the rollout, the assessment's roles (which track is the canary, which the stable), the selected pod and
the rollout's Services. Values are only gathered here; tui/runbooks/safety.py validates each where it is used."""

from __future__ import annotations

from typing import Any

from tui.runbooks.runner import Where


def _first_pod(rows: list, track: str | None) -> str | None:
    if not track:
        return None
    names = sorted(r.name for r in rows if getattr(r, "track", None) == track)
    running = sorted(r.name for r in rows if getattr(r, "track", None) == track and getattr(r, "state", "") != "gone")
    return (running or names or [None])[0]


def where_for(session: Any, assessment: Any, *, selected_pod: str | None = None, selected_track: str | None = None,
              kubectl: str | None = None) -> Where:
    """`session` is a SessionView; `assessment` its newest Assessment (or None before the first)."""
    t = session.target
    rows = list(session.pod_rows())
    roles = getattr(assessment, "roles", None)
    candidate = getattr(roles, "candidate", None)
    baseline = getattr(roles, "baseline", None)
    kind = (t.kind or "").lower() or None
    workload = None
    if t.rollout and t.kind in ("Rollout", "Deployment"):
        workload = session.store.get("rollouts" if t.kind == "Rollout" else "deployments", t.namespace, t.rollout)
    strategy = ((workload or {}).get("spec") or {}).get("strategy") or {}
    bg, canary = strategy.get("blueGreen") or {}, strategy.get("canary") or {}
    service = getattr(roles, "active_service", None) or bg.get("activeService") or canary.get("stableService")
    preview = bg.get("previewService") or canary.get("canaryService")
    services: dict[str, tuple[dict, str]] = {}
    for svc in session.store.list("services", t.namespace) if t.namespace else ():
        meta = svc.get("metadata") or {}
        sel = (svc.get("spec") or {}).get("selector")
        if isinstance(sel, dict) and meta.get("name"):
            services[meta["name"]] = ({str(k): str(v) for k, v in sel.items()}, str(meta.get("resourceVersion") or ""))
    if preview is None and service:
        # no Rollout to name it: the Service beside the active one that says it is the preview
        preview = next((n for n, svc in ((n, session.store.get("services", t.namespace, n)) for n in services)
                        if n != service and (n == f"{service}-preview" or
                                             (((svc or {}).get("metadata") or {}).get("labels") or {}).get("role")
                                             == "preview")), None)
    labels = (((workload or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    app = labels.get("app") or labels.get("app.kubernetes.io/name") or t.rollout
    pod = selected_pod
    track = selected_track
    if pod is None:
        pod = _first_pod(rows, candidate) or _first_pod(rows, baseline)
        track = candidate if _first_pod(rows, candidate) else baseline
    rollout = t.rollout
    progress = getattr(assessment, "progress", None)
    if getattr(progress, "controller", None) == "Flagger":  # `kubectl describe canary NAME`; its Services by name
        kind, rollout = "canary", progress.name
        service, preview = service or progress.name, preview or f"{progress.name}-canary"
    values = {
        "context": t.context, "namespace": t.namespace, "rollout": rollout, "kind": kind, "app": app,
        "pod": pod, "track": track, "canary_pod": _first_pod(rows, candidate), "stable_pod": _first_pod(rows, baseline),
        "canary_track": candidate, "stable_track": baseline, "service": service, "preview_service": preview,
    }
    missing = {
        "pod": "no pod selected and none in the rollout's tracks",
        "canary_pod": "no canary (candidate) pod is running" if candidate else "this rollout has no canary track now",
        "stable_pod": "no stable (baseline) pod is running",
        "service": "the rollout names no Service Lookout could find",
        "preview_service": "the rollout names no preview or canary Service",
        "rollout": "pods are selected by label: there is no Rollout or Deployment",
        "kind": "pods are selected by label: there is no Rollout or Deployment",
        "canary_track": "this rollout has no canary track now",
    }
    return Where(context=t.context, namespace=t.namespace, kubeconfig=t.kubeconfig_path, values=values,
                 missing=missing, read_only=bool(session.read_only), kubectl=kubectl,
                 prometheus=bool(getattr(session, "prometheus_url", None) or getattr(
                     getattr(getattr(session, "settings", None), "prometheus", None), "url", None)),
                 services=services)


def pod_for_track(session: Any, assessment: Any, track: str | None) -> tuple[str | None, str | None]:
    """The first pod of a step's `track:` (canary/candidate, stable/baseline) for the CLI's `{pod}`."""
    roles = getattr(assessment, "roles", None)
    name = {"canary": getattr(roles, "candidate", None), "candidate": getattr(roles, "candidate", None),
            "stable": getattr(roles, "baseline", None), "baseline": getattr(roles, "baseline", None)}.get(track or "")
    return _first_pod(list(session.pod_rows()), name), name
