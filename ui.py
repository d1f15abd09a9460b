"""``python ui.py [--host H] [--port P] [--auth user:pass]``: the same as ``policy-qa serve``."""

from assistant.server import main

if __name__ == "__main__":
    raise SystemExit(main())
