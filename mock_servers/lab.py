"""The lab: every server of the course, started together in one line.

>>> lab = mock_servers.start(seed=42)        # doctest: +SKIP
>>> requests.get(f"{lab.base_url}/api/v1/orders",
...              headers={"X-API-Key": lab.api_key}).json()["total"]
1200

``start`` is idempotent within a process: the same arguments return the lab
that is already running. Servers listen on 127.0.0.1 at ports the OS chooses,
write nothing to the notebook cell, and share one clock (a
:class:`~connectors_lib.clock.VirtualClock` unless ``clock=`` is given).
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors_lib.clock import Clock, VirtualClock

from .app import build_app
from .data import ShopData, build_dataset
from .graphql_api import GraphQLServer
from .oauth import OAuthServer, lab_clients
from .proxy import FaultProxy
from .runner import ServerThread
from .state import LabSettings, LabState
from .tls import make_tls_files

if TYPE_CHECKING:
    from .sftp import SFTPInfo, SFTPLabServer

__all__ = ["Lab", "running_labs", "start", "stop_all"]


def derive_secret(seed: int, label: str, length: int = 24) -> str:
    """A lab credential derived from the seed: the same every run, different per label.

    These are *lab* credentials, reproducible on purpose so that stored
    notebook outputs match; real secrets come from the environment.
    """
    digest = hmac.new(f"conectores-lab-{seed}".encode(), label.encode(), hashlib.sha256)
    return digest.hexdigest()[:length]


@dataclass(frozen=True)
class _LabKey:
    seed: int
    clock_id: int | None
    tls: bool
    sftp: bool
    proxy: bool
    host: str
    port: int
    learners: tuple[str, ...]
    settings: LabSettings


class Lab:
    """A running lab. Attributes are what a learner needs to connect.

    Credentials are visible as attributes (it is a lab), but ``repr`` and
    :meth:`describe` show none of them unless asked.
    """

    def __init__(self, key: _LabKey, clock: Clock) -> None:
        self._key = key
        self.seed = key.seed
        self.settings = key.settings
        self.clock = clock
        self.workdir = Path(tempfile.mkdtemp(prefix="conectores-lab-"))
        self.learner_keys = {
            name: f"lab-{derive_secret(key.seed, 'api-key:' + name)}" for name in key.learners
        }
        #: The API key of the first (or only) learner.
        self.api_key = next(iter(self.learner_keys.values()))
        #: Token for ``/__admin/``: learners' keys cannot reset the lab.
        self.admin_token = f"adm-{derive_secret(key.seed, 'admin')}"
        self.state = LabState(
            settings=key.settings,
            clock=clock,
            data=ShopData(build_dataset(key.seed, n_orders=key.settings.n_orders)),
            api_keys={k: name for name, k in self.learner_keys.items()},
            admin_token=self.admin_token,
        )
        self.data = self.state.data
        self.faults = self.state.faults
        self.journal = self.state.journal
        self._servers: list[Any] = []
        self._stopped = False
        self.started_in = 0.0

    # -- lifecycle ---------------------------------------------------------
    def _start(self) -> None:
        began = time.perf_counter()
        key = self._key
        tls = make_tls_files(self.workdir / "tls") if key.tls else None
        #: The lab's throwaway CA (``start(tls=True)``): clients verify with it.
        self.ca_path: Path | None = tls.ca_path if tls else None
        self._http = ServerThread(
            build_app(self.state), host=key.host, port=key.port,
            ssl_certfile=tls.cert_path if tls else None,
            ssl_keyfile=tls.key_path if tls else None,
        )
        self._http.start()
        self._servers.append(self._http)
        scheme = "https" if tls else "http"
        shown_host = "127.0.0.1" if key.host in ("0.0.0.0", "") else key.host  # noqa: S104
        #: Root URL of the HTTP lab (REST under ``/api/v1``, ``/entries``, ``/docs``).
        self.base_url = f"{scheme}://{shown_host}:{self._http.port}"
        self.graphql_url = f"{self.base_url}/graphql"
        self.token_url = f"{self.base_url}/oauth/token"
        self.admin_url = f"{self.base_url}/__admin"
        self.authorize_url = f"{self.base_url}/oauth/authorize"
        #: The OAuth2 server (expire or revoke tokens on demand) and the GraphQL one.
        self.oauth: OAuthServer = self.state.extras["oauth"]
        self.graphql: GraphQLServer = self.state.extras["graphql"]
        etl, reports, public = lab_clients(key.seed)
        #: Confidential client with every scope (client credentials grant).
        self.client_id, self.client_secret = etl.client_id, etl.client_secret or ""
        #: A second client limited to ``products:read``, for the lesson on scopes.
        self.limited_client_id = reports.client_id
        self.limited_client_secret = reports.client_secret or ""
        #: Public client (no secret) for authorization code + PKCE with refresh tokens.
        self.public_client_id = public.client_id
        self.proxy: FaultProxy | None = None
        #: The same HTTP lab behind the TCP fault proxy (resets, garbage, hangs...).
        self.proxy_url: str | None = None
        if key.proxy:
            self.proxy = FaultProxy(
                "127.0.0.1", self._http.port, host=key.host, clock=self.clock,
                server_ssl=tls.server_ssl_context() if tls else None,
                upstream_ssl=tls.client_ssl_context() if tls else None,
            ).start()
            self._servers.append(self.proxy)
            self.proxy_url = self.proxy.url.replace("0.0.0.0", "127.0.0.1")  # noqa: S104
            self.faults.socket = self.proxy.faults
        self._sftp_server: SFTPLabServer | None = None
        #: Connection details of the SFTP server (``None`` with ``sftp=False``).
        self.sftp: SFTPInfo | None = None
        if key.sftp:
            from .sftp import SFTPLabServer  # paramiko is heavy: only when asked for

            self._sftp_server = SFTPLabServer(
                self.workdir / "sftp", clock=self.clock, seed=key.seed, host=key.host,
            )
            self.sftp = self._sftp_server.start()
            self._servers.append(self._sftp_server)
            self.faults.sftp = self._sftp_server.faults
        self.started_in = time.perf_counter() - began

    def stop(self) -> None:
        """Stop every server of this lab and delete its temporary files."""
        if self._stopped:
            return
        self._stopped = True
        for server in reversed(self._servers):
            server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        with _LOCK:
            for k, lab in list(_LABS.items()):
                if lab is self:
                    del _LABS[k]

    def reset(self) -> None:
        """Back to the seeded state: no faults, empty journal, fresh rate windows, seeded data.

        Same as ``POST /__admin/reset``. The clock and issued OAuth2 tokens stay.
        """
        self.state.reset()

    @property
    def running(self) -> bool:
        return not self._stopped

    # -- presentation --------------------------------------------------------
    def headers(self) -> dict[str, str]:
        """Headers that authenticate the first learner with an API key."""
        return {"X-API-Key": self.api_key}

    def env(self) -> dict[str, str]:
        """Environment variables the original lesson reads (``API_BASE_URL``, ``API_KEY``...)."""
        return {
            "API_BASE_URL": self.base_url,
            "API_KEY": self.api_key,
            "GQL_URL": self.graphql_url,
            "OAUTH_TOKEN_URL": self.token_url,
            "OAUTH_CLIENT_ID": self.client_id,
            "OAUTH_CLIENT_SECRET": self.client_secret,
            "OAUTH_SCOPE": "orders:read",
        }

    def describe(self, *, show_secrets: bool = False) -> str:
        """Connection details in Spanish, ports included (for the CLI, not for notebooks)."""

        def secret(value: str) -> str:
            return value if show_secrets else "(oculto: usa show_secrets=True)"

        lines = [
            "Laboratorio de conectores",
            f"  REST       {self.base_url}/api/v1   (documentación: {self.base_url}/docs)",
            f"  Catálogo   {self.base_url}/entries",
            f"  GraphQL    {self.graphql_url}",
            f"  OAuth2     {self.token_url}",
            f"             client_id={self.client_id} client_secret={secret(self.client_secret)}",
            f"             con menos scopes: client_id={self.limited_client_id} "
            f"client_secret={secret(self.limited_client_secret)}",
        ]
        if self.proxy_url:
            lines.append(f"  Proxy TCP  {self.proxy_url}   (fallos de red: cabecera "
                         "X-Mock-Socket-Fault o lab.faults.socket)")
        if self.ca_path:
            lines.append(f"  CA TLS     {self.ca_path}")
        if self.sftp:
            s = self.sftp
            lines += [
                f"  SFTP       sftp -P {s.port} {s.username}@{s.host}   "
                f"contraseña: {secret(s.password)}",
                f"             con clave: {s.key_username}, clave privada {s.private_key_path}",
                f"             known_hosts: {s.known_hosts_path}",
                f"             huella del host: {s.host_key_fingerprint}",
            ]
        lines += [
            f"  Admin      {self.admin_url}   cabecera X-Admin-Token: {secret(self.admin_token)}",
            "  Claves de API (cabecera X-API-Key), una por alumno:",
        ]
        for name, api_key in self.learner_keys.items():
            lines.append(f"    {name:<12} {secret(api_key)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "en marcha" if self.running else "detenido"
        return f"<Lab seed={self.seed} {state}>"

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_LABS: dict[_LabKey, Lab] = {}
_LOCK = threading.RLock()  # stop() may run while start() holds it


def start(
    seed: int = 42,
    *,
    clock: Clock | None = None,
    settings: LabSettings | None = None,
    learners: tuple[str, ...] = ("alumno",),
    tls: bool = False,
    sftp: bool = True,
    proxy: bool = True,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Lab:
    """Start (or return the running) lab for these arguments.

    ``clock`` defaults to a new :class:`VirtualClock` shared by the servers and
    exposed as ``lab.clock``; pass ``SystemClock()`` for real time (the CLI does).
    """
    settings = settings or LabSettings(seed=seed)
    if settings.seed != seed:
        settings = LabSettings(**{**settings.__dict__, "seed": seed})
    if not learners:
        raise ValueError("hace falta al menos un alumno (learners)")
    key = _LabKey(
        seed, id(clock) if clock is not None else None, tls, sftp, proxy, host, port,
        tuple(learners), settings,
    )
    with _LOCK:
        lab = _LABS.get(key)
        if lab is not None and lab.running:
            return lab
        lab = Lab(key, clock if clock is not None else VirtualClock())
        try:
            lab._start()
        except BaseException:
            lab.stop()
            raise
        _LABS[key] = lab
        return lab


def running_labs() -> list[Lab]:
    """The labs started in this process and not yet stopped."""
    with _LOCK:
        return list(_LABS.values())


def stop_all() -> None:
    """Stop every lab of this process (also run at interpreter exit)."""
    for lab in running_labs():
        lab.stop()


atexit.register(stop_all)
