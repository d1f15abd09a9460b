"""Docs that cannot drift: the README's configuration table names every setting, and only real ones."""

from __future__ import annotations

import re

from pydantic import BaseModel

from assistant.settings import PROJECT_ROOT, Settings


def _setting_names(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Field names as environment variables spell them: sub-model fields as ``retrieval__rrf_k``."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            names |= _setting_names(kind, f"{prefix}{name}__")
        else:
            names.add(prefix + name)
    return names


def test_readme_configuration_table_matches_settings() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    documented = {name.lower() for name in re.findall(r"`POLICY_QA_([A-Z_]+)`", readme)}
    documented |= {"openai_api_key", "openai_base_url"} if "`OPENAI_API_KEY`" in readme else set()
    fields = _setting_names(Settings)
    assert fields - documented == set(), f"settings missing from README: {fields - documented}"
    assert documented - fields == set(), f"README documents unknown settings: {documented - fields}"
