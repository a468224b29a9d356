"""A day of roaming through a running hub: `make demo` (`python -m demo.run`).

Simulated partners (two CSOs, two CSPs) are onboarded with the management commands, run their own
small HTTP endpoints on 127.0.0.1 that verify every signed delivery, and play the day over the I3 API:
locations and tariffs, live statuses, drivers authorizing, remote commands, sessions, SDRs with
mistakes and a dispute, the settlement run and its statements' reports. Standard library only, apart
from the hub's own stdlib-only client (`clearinghouse/lib/i3client.py`) and the management commands
it runs as subprocesses.
"""
