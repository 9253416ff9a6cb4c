"""moto's request dispatcher with the host -> service lookup memoized.

``DomainDispatcherApplication.get_backend_for_host`` lists moto's package directory and stats
every service folder on each request (about 1 ms, most of a warm Lambda invoke's server time).
The answer depends only on the host string, so it is cached here; everything else is moto's.
"""

from __future__ import annotations

from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_MAX_HOSTS = 1024


class CachedDispatcher(DomainDispatcherApplication):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_for_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_for_host[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            if len(self._backend_for_host) < _MAX_HOSTS:
                self._backend_for_host[host] = backend
            return backend
