"""mlstore: an ML artifact store and lineage service built on ML Metadata."""
