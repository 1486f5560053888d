"""Django's own servers, told to pass the raw request-target on as ``RAW_URI`` (as gunicorn does).

The exchange verifies an RFC 9421 ``@target-uri`` exactly as the client sent it
(``registry.httpsig.request_target_uri``); WSGI gives only the percent-decoded path, so a server has
to hand over the request line's target itself. ``manage.py runserver`` (``make demo``) and the live
test server use these classes.
"""

from typing import Any

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler, WSGIServer


def _raw_uri_handler(handler: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
    class RawURIRequestHandler(handler):  # type: ignore[valid-type, misc]  # a subclass of the server's own
        def get_environ(self) -> dict[str, Any]:
            environ = super().get_environ()
            environ["RAW_URI"] = self.path  # the request line's target, byte for byte (as latin-1 text)
            return environ

    return RawURIRequestHandler


class RawURIWSGIServer(WSGIServer):
    """``runserver``'s server, whatever handler class it is given, with ``RAW_URI`` in the environ."""

    def __init__(self, server_address: Any, handler: type[WSGIRequestHandler], *args: Any, **kwargs: Any) -> None:
        super().__init__(server_address, _raw_uri_handler(handler), *args, **kwargs)


class RawURIThreadedWSGIServer(ThreadedWSGIServer):
    """The live test server's (``LiveServerThread.server_class``), with ``RAW_URI`` in the environ."""

    def __init__(self, server_address: Any, handler: type[WSGIRequestHandler], *args: Any, **kwargs: Any) -> None:
        super().__init__(server_address, _raw_uri_handler(handler), *args, **kwargs)
