"""What a benchmark gets: the options, the hub (started once per suite), the peer, the measurer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from . import machine
from .hub import Hub, Signer
from .measure import Measurer, Target
from .peer import Peer
from .wrk import Request


@dataclass(frozen=True)
class Options:
    """The suite's command-line choices, as every benchmark sees them."""

    quick: bool
    runs: int
    duration: float
    warmup: float
    connections: tuple[int, ...]
    hub_threads: int
    wrk_threads: int
    redis_url: str
    quiet_wait: float


class Context:
    """Shared by the benchmarks of one suite run; `close()` stops and drops everything it started."""

    def __init__(self, options: Options, work_dir: Path) -> None:
        self.options = options
        self.work_dir = work_dir
        self._hub: Hub | None = None
        self._peers: list[Peer] = []
        self.measurer = Measurer(
            work_dir=work_dir / "runs",
            duration=options.duration,
            runs=options.runs,
            warmup=options.warmup,
            wrk_threads=options.wrk_threads,
            quiet_wait=options.quiet_wait,
        )
        (work_dir / "runs").mkdir(parents=True, exist_ok=True)
        self._redis_pid = machine.redis_pid(options.redis_url)

    def levels(self, connections: tuple[int, ...]) -> tuple[int, ...]:
        """The concurrency levels to measure: all of them, or the first one for --quick."""
        return connections[:1] if self.options.quick else connections

    # --- the systems under test ----------------------------------------------------------------

    def hub(self) -> Hub:
        """The hub on a fresh, migrated bench database, started on first use and shared."""
        if self._hub is None:
            hub = Hub(
                work_dir=self.work_dir, redis_url=self.options.redis_url, threads=self.options.hub_threads
            )
            self._hub = hub
            hub.create_database()
            hub.start()
        return self._hub

    def peer(self, uids: list[str]) -> Peer:
        peer = Peer(work_dir=self.work_dir, uids=uids)
        self._peers.append(peer)
        peer.start()
        return peer

    def close(self) -> None:
        for peer in self._peers:
            with contextlib.suppress(Exception):
                peer.stop()
        if self._hub is not None:
            self._hub.stop()
            self._hub = None

    # --- targets -------------------------------------------------------------------------------

    def redis_pids(self) -> list[int]:
        return [self._redis_pid]

    def hub_target(
        self,
        name: str,
        signer: Signer,
        make: Callable[[Signer, int], Iterable[Request]],
        *,
        url_path: str,
        expect_status: int = 200,
        expect_body: str = "",
        items_per_request: int = 1,
        max_rate_guess: float = 8000.0,
        count_patterns: dict[str, str] | None = None,
        check_counts: Callable[[dict[str, int], int], list[str]] | None = None,
        timeout: float = 5.0,
        min_warmup: float = 0.0,
        min_duration: float = 0.0,
    ) -> Target:
        """A hub endpoint as a wrk target; its cost is the hub's CPU plus PostgreSQL's (Redis apart)."""
        hub = self.hub()
        return Target(
            name=name,
            url=hub.base_url + url_path,
            make_requests=lambda n: list(make(signer, n)),
            cpu_groups={
                "hub": hub.pids,
                "postgres": hub.postgres_pids,
                "pg-shared": hub.postgres_shared_pids,
                "redis": self.redis_pids,
            },
            cost_groups=("hub", "postgres"),
            expect_status=expect_status,
            expect_body=expect_body,
            items_per_request=items_per_request,
            max_rate_guess=max_rate_guess,
            count_patterns=count_patterns or {},
            check_counts=check_counts,
            timeout=timeout,
            min_warmup=min_warmup,
            min_duration=min_duration,
        )
