"""Event-to-screen latency: match the demo cluster's stamped changes with what the terminal showed, per pod."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass

from bench.cluster import Change
from bench.term import Observation


@dataclass
class Latency:
    samples: list[float]  # seconds, one per change shown
    lost: int  # changes to pods on screen that never showed (stale screen)
    off_screen: int  # changes to pods never on screen: not measurable, not counted

    def pct(self, q: float) -> float | None:
        if not self.samples:
            return None
        s = sorted(self.samples)
        i = min(len(s) - 1, max(0, int(round(q / 100.0 * len(s) + 0.5)) - 1))
        return s[i]

    @property
    def max(self) -> float | None:
        return max(self.samples) if self.samples else None


def match(changes: list[Change], observations: list[Observation], start: float, end: float,
          in_flight: float = 0.0) -> Latency:
    """A change made at `stamp` is shown at the first moment t >= stamp when the pod's row shows its state
    or the state of a later change already made by t (a change overtaken before the next frame counts as
    shown with that frame). Changes stamped in [start, end - in_flight) are counted; the caller keeps
    observing for a while after `end`, so the last changes have time to show.
    """
    by_pod_c: dict[str, list[Change]] = defaultdict(list)
    by_pod_o: dict[str, list[Observation]] = defaultdict(list)
    for c in changes:
        by_pod_c[c[1]].append(c)
    for o in observations:
        by_pod_o[o[1]].append(o)
    samples: list[float] = []
    lost = off = 0
    for pod, cs in by_pod_c.items():
        cs.sort()
        obs = sorted(by_pod_o.get(pod, ()))
        times = [o[0] for o in obs]
        if not obs:
            off += sum(1 for c in cs if start <= c[0] < end - in_flight)
            continue
        for i, (stamp, _, _st) in enumerate(cs):
            if not (start <= stamp < end - in_flight):
                continue
            shown = None
            for j in range(bisect_left(times, stamp), len(obs)):
                t, _, ost = obs[j]
                # states of this change and of every later change already made at t
                for k in range(i, len(cs)):
                    if cs[k][0] > t:
                        break
                    if cs[k][2] == ost:
                        shown = t
                        break
                if shown is not None:
                    break
            if shown is None:
                lost += 1
            else:
                samples.append(shown - stamp)
    return Latency(samples, lost, off)
