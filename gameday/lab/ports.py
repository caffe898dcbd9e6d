"""Loopback port selection and checks for the lab."""

from __future__ import annotations

import contextlib
import socket


class PortInUseError(RuntimeError):
    """A port the lab was told to use is taken."""


def _bindable(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(hosts: tuple[str, ...] = ("127.0.0.1",), *, udp: bool = False) -> int:
    """A TCP port (and UDP, with ``udp``) free on every one of ``hosts``."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((hosts[0], 0))
            port = int(sock.getsockname()[1])
        if all(_bindable(h, port, socket.SOCK_STREAM) for h in hosts) and (
            not udp or all(_bindable(h, port, socket.SOCK_DGRAM) for h in hosts)
        ):
            return port
    raise PortInUseError(f"no free port on {', '.join(hosts)}")


def require_free(port: int, hosts: tuple[str, ...], what: str, *, udp: bool = False) -> int:
    """Return ``port`` if free on every host (0 picks a free one), else raise with a clear message."""
    if port == 0:
        return free_port(hosts, udp=udp)
    for host in hosts:
        if not _bindable(host, port, socket.SOCK_STREAM) or (
            udp and not _bindable(host, port, socket.SOCK_DGRAM)
        ):
            raise PortInUseError(
                f"{what} port {port} is already in use on {host}: choose another or pass 0 to pick a free one"
            )
    return port


def listening(host: str, port: int, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
