"""The UI's date field and 只看现行有效 / 包括历史文件 choice, shared by the chat filters and 政策找人."""

from __future__ import annotations

from typing import Any

import gradio as gr

# (label, value): the value goes to ``Filters.validity`` ("default" = None, see ``assistant.core.validity``).
CHAT_VALIDITY = [("现行版本（默认）", "default"), ("只看现行有效", "current"), ("包括历史文件", "all")]
# Eligibility lists only measures in force unless asked for history: its default is 只看现行有效.
MATCH_VALIDITY = [("只看现行有效", "current"), ("包括历史文件", "all")]
DATE_PLACEHOLDER = "YYYY-MM-DD，留空 = 今天"


def date_fields(date_id: str, validity_id: str, choices: list[tuple[str, str]]) -> tuple[Any, Any]:
    """A date box (answer as of that day) and the validity radio, created in the caller's layout."""
    as_of = gr.Textbox(
        label="按日期回答", placeholder=DATE_PLACEHOLDER, value="", max_lines=1, max_length=10, elem_id=date_id,
        min_width=160,
    )  # fmt: skip
    validity = gr.Radio(choices=choices, value=choices[0][1], label="文件范围", elem_id=validity_id, min_width=240)
    return as_of, validity
