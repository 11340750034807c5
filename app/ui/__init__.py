"""The web dashboard at ``/ui``: server-rendered page shells, and the ES modules that draw
them from the JSON API (no CDN, no build step, nothing fetched from another host)."""
