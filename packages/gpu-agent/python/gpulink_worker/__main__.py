"""`python -m gpulink_worker`: the process the gpulink agent runs for each job."""

import os
import sys

from .main import main

if __name__ == "__main__":
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    # The outcome is on fd 3 already; threads a user's script left running (or DataLoader
    # workers) must not keep the process alive past it.
    os._exit(code)
