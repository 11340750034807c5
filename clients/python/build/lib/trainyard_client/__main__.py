"""``python -m trainyard_client``: the same as ``trainyard``."""

import sys

from trainyard_client.cli import main

sys.exit(main())
