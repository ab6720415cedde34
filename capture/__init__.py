"""Web captures of cited pages: archived (WACZ), photographed (PNG, PDF), hashed and
timestamped by a third party, stored as evidence of the citation's case.

- `capture.network`: which addresses a capture may reach, and the HTTP exchanges themselves.
- `capture.engine`: `capture_page()`, the browser session that produces the files.
- `capture.archive`: WARC records and the WACZ package.
- `capture.timestamps`: RFC 3161 timestamps (request, verification, the kept chain).
- `capture.models`, `capture.domain`: the Capture record, its files as cases.Evidence, and
  the functions that request, run and store a capture.
- `capture.verification`: re-hashing stored evidence and re-verifying timestamps.
"""
