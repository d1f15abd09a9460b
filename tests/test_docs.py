"""Docs that cannot drift: the README's configuration table names every setting, and only real ones."""

from __future__ import annotations

import re

from assistant.settings import PROJECT_ROOT, Settings


def test_readme_configuration_table_matches_settings() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = {name.lower() for name in re.findall(r"`POLICY_QA_([A-Z_]+)`", readme)}
    documented |= {"openai_api_key", "openai_base_url"} if "`OPENAI_API_KEY`" in readme else set()
    fields = set(Settings.model_fields)
    assert fields - documented == set(), f"settings missing from README: {fields - documented}"
    assert documented - fields == set(), f"README documents unknown settings: {documented - fields}"
