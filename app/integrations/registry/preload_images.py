"""Imported by the forkserver when the registry draws evaluation images: it draws each kind of
image once (``plots.warm_up``), so that no attempt process pays for matplotlib's first use."""

import logging

from app.integrations.registry import plots

try:
    plots.warm_up()
except Exception:  # an optimisation only: a failure here must not stop the forkserver
    logging.getLogger(__name__).exception("warming the evaluation images failed")
