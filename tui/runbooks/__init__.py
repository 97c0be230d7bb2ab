"""Runbooks on keys: runbook definitions as data, the step planner and runner, and which runbook fits the
assessment (no Textual here: widgets/runbooks.py draws them)."""
