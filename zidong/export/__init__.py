"""Deployment: every inference graph of a run exported to MINDIR (``exporter``), the exported
folder's description and integrity checks (``bundle``), and a runtime that serves every task from
those files alone (``infer``).

Nothing is imported here on purpose: ``infer`` and ``bundle`` must stay importable without the
model classes (``zidong.models``), which ``graphs`` and ``exporter`` need.
"""
