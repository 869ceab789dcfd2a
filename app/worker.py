"""``python -m app.worker``: run one fleet worker (the same as ``claude-workers worker``)."""

import sys

from app.cli import main

if __name__ == "__main__":
    main(["worker", *sys.argv[1:]])
