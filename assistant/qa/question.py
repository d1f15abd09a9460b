"""User input before it is a question: cleaned, bounded, and refused in words a user can act on."""

from __future__ import annotations

import re
import unicodedata

from assistant.settings import Settings


class InvalidQuestionError(ValueError):
    """The question cannot be asked as given; the message says why in words a user can act on."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")


def prepare_question(question: object, settings: Settings) -> tuple[str, str]:
    """Clean user input: strip control characters, refuse empty input, truncate very long input."""
    if not isinstance(question, str):
        raise InvalidQuestionError("问题必须是文本。")
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", question)).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise InvalidQuestionError("请输入问题。")
    notice = ""
    if len(text) > settings.max_question_chars:
        text = text[: settings.max_question_chars]
        notice = f"问题过长，已截取前 {settings.max_question_chars} 个字符。"
    searchable = re.sub(r"<[^>]{0,200}>", " ", text)  # markup carries no question
    if not re.search(r"[\u3400-\u9fff]|[A-Za-z]{2,}", searchable):
        raise InvalidQuestionError("没有识别到可以检索的文字，请用中文或英文描述您的问题。")
    han_latin = len(re.findall(r"[\u3400-\u9fffA-Za-z]", searchable))
    other = sum(1 for ch in searchable if ch.isalpha() and not re.match(r"[\u3400-\u9fffA-Za-z]", ch))
    if other > han_latin:
        raise InvalidQuestionError("目前只支持中文（简体或繁体）和英文提问。Please ask in Chinese or English.")
    return text, notice
