"""Normalising and diffing two environments of one app (blue/green, stable/canary), and the switch preview.

Plain data in, plain data out; nothing here imports Textual. Secret values never enter: the store keeps a keyed
digest per key (tui.kube.slim.SecretDigest), and a Secret key reads only `same` or `differs`."""
