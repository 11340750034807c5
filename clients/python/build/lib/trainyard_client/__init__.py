"""The Trainyard client: ``TrainyardClient`` for Python, ``trainyard`` on the command line.

It talks to a Trainyard server over HTTP and imports nothing of the server.
"""

from trainyard_client.client import TERMINAL_STATUSES, TrainyardAPIError, TrainyardClient

__version__ = "0.1.0"
__all__ = ["TERMINAL_STATUSES", "TrainyardAPIError", "TrainyardClient", "__version__"]
