"""The gRPC server behind ``mlstore serve``.

Layout:

* :mod:`.app` builds and runs the server (health, reflection, TLS, graceful shutdown,
  message limits); :mod:`.processes` runs several on one port (``--processes``);
  :mod:`.auth` bearer tokens and scopes;
* :mod:`.backend` the shared store and the pool of write connections;
* :mod:`.query_services`, :mod:`.model_services`, :mod:`.ingest_service` the services of
  ``proto/mlstore/v1``; :mod:`.gating` finds a gate's inputs in the store;
* :mod:`.convert` records <-> messages, :mod:`.lineage_columns` lineage graphs <-> packed
  columns, :mod:`.warm_start` warm-start requirements and selections <-> messages;
  :mod:`.status` typed errors <-> status codes.
"""

from mlstore.server.app import ServeOptions, build_server, serve

__all__ = ["ServeOptions", "build_server", "serve"]
