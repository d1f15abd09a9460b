"""Request bodies of the /v1 API (pydantic): OpenAI's chat-completions fields plus ours, and the JSON endpoints.

Unknown fields are ignored, as OpenAI-compatible servers do, so any client's extra options pass.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "policy-qa"


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ContentPart(_Body):
    type: str = "text"
    text: str | None = None


class ChatMessage(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        """The message's text: a string, or its text parts joined (images and other parts carry no question)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content or [] if p.type in ("text", "input_text"))


AS_OF = "Answer as of this date (YYYY-MM-DD; default today; a date the question states wins)."
VALIDITY = (
    "Which documents count on that date: current = 只看现行有效 (no expired, repealed or not yet effective "
    "document), all = 包括历史文件; default: every document except a version superseded within the corpus."
)
ValidityField = Literal["current", "all"] | None


class FiltersBody(_Body):
    jurisdictions: list[str] = Field(default_factory=list, description="地区，如 温州市 / 温州 / 全国")
    documents: list[str] = Field(default_factory=list, description="文件：doc_id、文件名或标题")
    as_of: str | None = Field(None, description=AS_OF)
    validity: ValidityField = Field(None, description=VALIDITY)


class ChatCompletionRequest(_Body):
    model: str = Field(MODEL_ID, description="Always policy-qa.")
    messages: list[ChatMessage] = Field(..., min_length=1, description="The conversation; the last one is the question.")
    stream: bool = False
    n: int = Field(1, ge=1, le=1, description="Only one answer per request.")
    user: str | None = Field(None, description="End-user id; the conversation id when none is given.")
    conversation_id: str | None = Field(
        None, description="Groups turns in the history; default: a hash of the first user message."
    )
    filters: FiltersBody | None = Field(None, description="Restrict the search to places and/or documents.")
    as_of: str | None = Field(None, description=AS_OF + " Same as filters.as_of.")
    validity: ValidityField = Field(None, description=VALIDITY + " Same as filters.validity.")


class RetrieveRequest(_Body):
    question: str
    filters: FiltersBody | None = None
    top_k: int | None = Field(None, ge=1, description="Passages to return (default: the top_k setting).")
    as_of: str | None = Field(None, description=AS_OF + " Same as filters.as_of.")
    validity: ValidityField = Field(None, description=VALIDITY + " Same as filters.validity.")


class CompareRequest(_Body):
    topic: str | None = Field(None, description="What to compare, or a whole question naming the places.")
    question: str | None = Field(None, description="Alias of topic.")
    jurisdictions: list[str] | None = Field(None, description="Places to compare (default: those the topic names).")
    as_of: str | None = Field(None, description="Fill each place's cell from the version in force on this date. " + AS_OF)
    validity: ValidityField = Field(None, description=VALIDITY)


class MatchRequest(_Body):
    profile: dict[str, Any] | str | None = Field(None, description="Firm profile: a dict of fields, or one sentence.")
    text: str | None = Field(None, description="Alias: the profile as one sentence.")
    include_unmet: bool = Field(False, description="Also list measures whose conditions fail.")
    as_of: str | None = Field(None, description="List the measures in force on this date. " + AS_OF)
    validity: ValidityField = Field(
        None, description="all = also list measures of documents not in force on the date (marked); default current."
    )


class FeedbackRequest(_Body):
    id: str = Field(..., min_length=1, description="The chat completion's id.")
    rating: Literal["up", "down"]
    reason: str | None = None
    comment: str | None = None
