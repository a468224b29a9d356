"""Privacy by design: the right to be forgotten (erasure), transparency (export) and retention.

The erasure and the export live here, in the credentials app, which owns contracts and the driver's
personal data. The apps above it (sessions, settlement) and the plumbing below it hold contract IDs
too: each registers its own erasure step, export section and retention step with `registry.py`, so
this app never imports an app above it. docs/privacy.md describes every personal data field.
"""
