"""The auth manager: ``python -m app.claude_auth_manager setup|status|test|config``.

The user guide's entry point, kept exactly as it writes it. The commands live in
``app.cli.auth`` (also mounted as ``claude-workers auth``); the logic in ``app.fleet.login``.
"""

from __future__ import annotations

from app.cli.auth import auth, main

__all__ = ["auth", "main"]

if __name__ == "__main__":
    main()
