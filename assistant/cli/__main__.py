"""``python -m assistant.cli``: the same as ``policy-qa``."""

from assistant.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
