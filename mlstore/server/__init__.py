"""The gRPC server behind ``mlstore serve``.

Layout: :mod:`.app` builds and runs the server (health, reflection, TLS, graceful
shutdown, message limits); :mod:`.auth` bearer tokens and scopes; :mod:`.backend` the
shared store and write pool; :mod:`.query_services` and :mod:`.model_services` the
services of ``proto/mlstore/v1``; :mod:`.gating` finds gate inputs in the store;
:mod:`.convert` records <-> messages; :mod:`.status` typed errors <-> status codes.
"""

from mlstore.server.app import ServeOptions, build_server, serve

__all__ = ["ServeOptions", "build_server", "serve"]
