"""OCPI 2.2.1 object shapes (Location, EVSE, Connector, Tariff): checking and normalising them.

Framework-free: nothing here imports Django, so the same rules serve the API, the admin, the
management commands and the unit tests.
"""
