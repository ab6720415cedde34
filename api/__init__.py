"""Casedesk's REST API (/api/v1/): the case records for scripts and other tools, under the
same per-case rules as the pages. See docs/architecture.md, "REST API"."""
