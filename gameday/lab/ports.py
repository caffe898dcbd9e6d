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


def free_port(
    hosts: tuple[str, ...] = ("127.0.0.1",), *, udp: bool = False, exclude: set[int] | None = None
) -> int:
    """A TCP port (and UDP, with ``udp``) free on every one of ``hosts``, not in ``exclude``."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((hosts[0], 0))
            port = int(sock.getsockname()[1])
        if exclude and port in exclude:
            continue
        if all(_bindable(h, port, socket.SOCK_STREAM) for h in hosts) and (
            not udp or all(_bindable(h, port, socket.SOCK_DGRAM) for h in hosts)
        ):
            return port
    raise PortInUseError(f"no free port on {', '.join(hosts)}")


def require_free(
    port: int,
    hosts: tuple[str, ...],
    what: str,
    *,
    udp: bool = False,
    taken: set[int] | None = None,
) -> int:
    """Return ``port`` if free on every host (0 picks a free one), else raise with a clear message.

    ``taken`` collects the ports already chosen for the same lab, so that two picks that are
    only bound later can never be the same port.
    """
    if taken is None:
        taken = set()
    if port == 0:
        chosen = free_port(hosts, udp=udp, exclude=taken)
        taken.add(chosen)
        return chosen
    if port in taken:
        raise PortInUseError(f"{what} port {port} is already given to another part of the lab")
    for host in hosts:
        if not _bindable(host, port, socket.SOCK_STREAM) or (
            udp and not _bindable(host, port, socket.SOCK_DGRAM)
        ):
            raise PortInUseError(
                f"{what} port {port} is already in use on {host}: choose another or pass 0 to pick a free one"
            )
    taken.add(port)
    return port


def listening(host: str, port: int, timeout: float = 0.2) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False
