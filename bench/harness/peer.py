"""The reference peer: extrawest-ocpi on uvicorn, in its own virtualenv (bench/.venv-peer)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from .procs import Server, free_port

BENCH = Path(__file__).resolve().parents[1]
VENV = BENCH / ".venv-peer"
REQUIREMENTS = BENCH / "peer" / "requirements.txt"
STAMP = VENV / ".requirements-sha256"
PATH_PREFIX = "/ocpi/emsp/2.2.1/tokens"


def ensure_venv() -> None:
    """Create or update bench/.venv-peer from bench/peer/requirements.txt (pinned)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == digest:
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"  creating the peer's virtualenv {VENV.relative_to(BENCH.parent)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    STAMP.write_text(digest + "\n")


def versions() -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys;"
        "print(json.dumps({n: m.version(n) for n in ('extrawest-ocpi', 'fastapi', 'uvicorn', 'pydantic',"
        " 'uvloop', 'httptools')} | {'python': sys.version.split()[0]}))"
    )
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


class Peer:
    """The peer served by uvicorn with `workers` processes, answering from `uids`."""

    def __init__(self, *, work_dir: Path, uids: list[str], workers: int = 2) -> None:
        self.work_dir = work_dir
        self.uids = uids
        self.workers = workers
        self.auth_token = base64.b16encode(os.urandom(16)).decode()
        self.port = 0
        self.server: Server | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def authorization_header(self) -> str:
        # OCPI 2.2.1: "Token " + base64 of the credentials token.
        return "Token " + base64.b64encode(self.auth_token.encode()).decode()

    def command(self) -> list[str]:
        return [
            str(VENV / "bin" / "uvicorn"),
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    def start(self) -> None:
        ensure_venv()
        config = self.work_dir / "peer-tokens.json"
        config.write_text(
            json.dumps(
                {
                    "auth_token": self.auth_token,
                    "party": {"country_code": "NL", "party_id": "REF"},
                    "uids": self.uids,
                }
            )
        )
        self.port = free_port()
        env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        env["PEER_TOKENS_FILE"] = str(config)
        self.server = Server(
            name="peer (uvicorn)",
            command=self.command(),
            env=env,
            cwd=BENCH / "peer",
            log_path=self.work_dir / "peer.log",
        ).start()
        self.server.wait_ready(f"{self.base_url}/ocpi/versions")
        print(f"  peer: {' '.join(self.command()[1:])}", flush=True)

    def pids(self) -> list[int]:
        return self.server.pids() if self.server else []

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
