"""The demo cluster's simulated controllers, one module per controller over a small reconcile base.

They react to the object store (`ClusterState.on_change` marks objects dirty; `Controllers.reconcile` works the
dirty sets until quiet) and to scheduled moments of scenario time (pod start-up, probes, back-off). They write what
the real controllers write, so kubectl, `kubectl rollout status` and Lookout see a cluster, not a mock-up. Pods'
lifecycle times run on scenario time (compressed by the speed); every timestamp they write is wall-clock.

- base.py: names, hashes, selectors, conditions, times, the event recorder (shared by all)
- core.py: `Controllers`, the change feed and the reconcile loop, combining the controllers below
- kubelet.py: pods' lifecycle; replicaset.py, deployment.py, rollout.py (Argo), analysis.py (Argo's AnalysisRuns,
  measured from the traffic model), experiment.py (Argo Experiments), endpoints.py (Endpoints and EndpointSlices),
  workloads.py (StatefulSet, DaemonSet, Job), flagger.py (Flagger's Canary scheduler), veritas.py (seed 001's CRDs)
"""

from tui.demo.controllers.base import (ARGO_HASH, BEHAVIOUR_ANNOTATION, CHANGED_AT, CRASH_MESSAGE_ANNOTATION,
                                       DEPLOY_HASH, NODES, ip_key, orjson_clone, owner_ref, parse_ts, pod_ready,
                                       pod_spec, qos_class, rfc3339, selector_matches, suffix,
                                       template_hash)
from tui.demo.controllers.core import Controllers

__all__ = ["ARGO_HASH", "BEHAVIOUR_ANNOTATION", "CHANGED_AT", "CRASH_MESSAGE_ANNOTATION", "DEPLOY_HASH", "NODES",
           "Controllers", "ip_key", "orjson_clone", "owner_ref", "parse_ts", "pod_ready", "pod_spec", "qos_class",
           "rfc3339", "selector_matches", "suffix", "template_hash"]
