"""The helper process of :class:`mlstore.index.fingerprints.BulkFingerprints`.

Reads pages of ``(artifact id, uri)`` pairs, one JSON list per line on stdin, and
answers each with one line: the JSON list of its fingerprints ``[id, digest, size,
files]`` (those with bytes to hash). Ends at the end of its input.
"""

from __future__ import annotations

import sys

from mlstore.index.fingerprints import take_all


def main() -> None:
    import json  # noqa: PLC0415

    sys.stdin.reconfigure(encoding="utf-8", errors="surrogatepass")
    sys.stdout.reconfigure(encoding="utf-8", errors="surrogatepass")
    for line in sys.stdin:
        found = take_all([(int(i), uri) for i, uri in json.loads(line)])
        sys.stdout.write(json.dumps([[fp.artifact_id, fp.digest, fp.size, fp.files] for fp in found]) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
