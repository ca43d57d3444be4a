"""``python -m mock_servers``: the lab for a classroom, in the foreground, on the real clock."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from connectors_lib.clock import SystemClock

from .state import LabSettings

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_servers",
        description="Servidores del laboratorio del curso de conectores (REST, OAuth2, "
        "GraphQL, SFTP).",
    )
    parser.add_argument("--version", action="version", version="conectores 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="ORDEN", required=True)
    serve = sub.add_parser(
        "serve",
        help="arranca el laboratorio en primer plano con el reloj real (para un aula)",
        description="Arranca todos los servidores del laboratorio con el reloj real e imprime "
        "los datos de conexión. Ctrl+C para detenerlos.",
    )
    serve.add_argument("--host", default="127.0.0.1",
                       help="interfaz donde escuchar (por defecto: %(default)s; "
                            "0.0.0.0 para que el aula se conecte)")
    serve.add_argument("--port", type=int, default=8000,
                       help="puerto HTTP (por defecto: %(default)s; 0 = uno libre)")
    serve.add_argument("--seed", type=int, default=42,
                       help="semilla de los datos (por defecto: %(default)s)")
    serve.add_argument("--learners", type=int, default=1, metavar="N",
                       help="cuántos alumnos: cada uno recibe su clave de API, con sus propios "
                            "límites y escenarios (por defecto: %(default)s)")
    serve.add_argument("--rate-limit", type=int, default=LabSettings.rate_limit, metavar="N",
                       help="peticiones permitidas por clave en cada ventana (por defecto: "
                            "%(default)s)")
    serve.add_argument("--rate-window", type=float, default=LabSettings.rate_window,
                       metavar="S", help="duración de la ventana en segundos (por defecto: "
                                         "%(default)s)")
    serve.add_argument("--orders", type=int, default=LabSettings.n_orders, metavar="N",
                       help="pedidos sembrados, 1024 o más (por defecto: %(default)s)")
    serve.add_argument("--tls", action="store_true",
                       help="sirve https con una CA desechable (imprime la ruta del ca.pem)")
    serve.add_argument("--no-sftp", action="store_true", help="no arranca el servidor SFTP")
    return parser


def _learner_names(n: int) -> tuple[str, ...]:
    if n < 1:
        raise SystemExit("--learners debe ser al menos 1")
    return ("alumno",) if n == 1 else tuple(f"alumno-{i:02d}" for i in range(1, n + 1))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .lab import start  # imported late: `--help` must be instant

    lab = start(
        args.seed,
        clock=SystemClock(),
        settings=LabSettings(
            seed=args.seed, rate_limit=args.rate_limit, rate_window=args.rate_window,
            n_orders=args.orders,
        ),
        learners=_learner_names(args.learners),
        tls=args.tls,
        sftp=not args.no_sftp,
        host=args.host,
        port=args.port,
    )
    print(lab.describe(show_secrets=True), flush=True)
    print(f"\nArrancado en {lab.started_in:.2f} s. Ctrl+C para detener.", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        lab.stop()
        print("Laboratorio detenido.", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
