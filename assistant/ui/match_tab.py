"""The "政策找人" tab: an enterprise profile in (form or one sentence), the measures that apply out.

Each measure shows every stated condition marked ✓ / ✗ / ? for this profile, the benefit, the
responsible department and the cited passage; the list can be downloaded as Markdown or CSV.
This module holds the form, its handler and the tab; the results' HTML is ``ui.match_render``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.decisions.eligibility import MatchResult, Profile, ProfileError, match, vocabulary
from assistant.settings import Settings
from assistant.ui.dates import MATCH_VALIDITY, date_fields
from assistant.ui.deadline import TIMEOUT_MESSAGE, DeadlineExceeded, Runner
from assistant.ui.exports import EXPORTS_FOLDER, ExportStore
from assistant.ui.match_render import EMPTY_MATCHES, render_error, render_matches

log = logging.getLogger(__name__)

Matcher = Callable[[Profile | str, bool], MatchResult]  # (profile or sentence, include_unmet) -> result
UNKNOWN_GRADE = "未知"


def default_matcher(settings: Settings) -> Matcher:
    def run(profile: Profile | str, include_unmet: bool, **when: Any) -> MatchResult:
        return match(profile, settings=settings, include_unmet=include_unmet, **when)

    return run


def place_finder(settings: Settings) -> Callable[[str], list[str]]:
    """Corpus places named in a sentence (keeps 柳市镇-level detail for the matcher)."""

    def find(text: str) -> list[str]:
        from assistant.index.catalog import open_catalog
        from assistant.retrieval.retriever import gazetteer_for

        return gazetteer_for(open_catalog(settings)).find(text) if text.strip() else []

    return find


_NUMBER_FIELDS = ("employees", "revenue", "age_years")


def profile_from_form(
    description: str,
    location: str,
    industry: str,
    employees: float | None,
    revenue: float | None,
    age_years: float | None,
    tax_credit: str,
    qualifications: Sequence[str],
    plans: Sequence[str],
    ownership: str,
    complete: bool = False,
    places: Sequence[str] = (),
    max_chars: int | None = None,
) -> Profile:
    """The form's fields over what the sentence says: a field the user filled in wins.

    ``complete``: the ticked qualifications are all the firm holds, so a 高新-only measure is "not met"
    for an unticked firm instead of "unknown". ``places``: corpus place names found in the sentence.
    """
    described = (description or "").strip()
    base = Profile.from_text(described, places=list(places) or None, max_chars=max_chars) if described else Profile()
    fields: dict[str, Any] = base.to_dict()
    given = {
        "location": (location or "").strip(),
        "industry": (industry or "").strip(),
        "employees": employees,
        "revenue": revenue,
        "age_years": age_years,
        "tax_credit": "" if tax_credit in (None, "", UNKNOWN_GRADE) else tax_credit,
        "ownership": "" if ownership in (None, "", UNKNOWN_GRADE) else ownership,
    }
    for key, value in given.items():
        if key in _NUMBER_FIELDS and not value:  # an empty number box arrives as 0: "not filled in"
            continue
        if value not in (None, ""):
            fields[key] = int(value) if key == "employees" and float(value).is_integer() else value
    fields["qualifications"] = list(dict.fromkeys([*fields.get("qualifications", []), *(qualifications or [])]))
    fields["plans"] = list(dict.fromkeys([*fields.get("plans", []), *(plans or [])]))
    fields["qualifications_complete"] = bool(complete) or bool(fields.get("qualifications_complete"))
    profile = Profile.from_dict(fields)
    if profile.is_empty():
        raise ProfileError("请至少填写所在地，或用一句话描述企业情况。")
    return profile


def make_find(
    matcher: Matcher,
    find_places: Callable[[str], list[str]],
    exports: ExportStore,
    runner: Runner,
    max_profile_chars: int,
) -> Callable[..., tuple[Any, Any, Any]]:
    """The handler of 查找适用措施: form values in; results HTML and the two download buttons out.

    The matching runs under the request's time budget; the files go to ``exports`` (bounded on disk).
    """

    def find(*values: Any) -> tuple[Any, Any, Any]:
        """Form values, include_unmet, then (optionally) the date and the validity choice."""
        form, (include_unmet, as_of, validity) = list(values[:11]), (*values[11:], None, None)[:3]
        hidden = gr.update(visible=False)
        description = form[0] or ""
        if len(description) > max_profile_chars:
            return render_error(f"企业描述过长，请控制在 {max_profile_chars} 个字符以内。"), hidden, hidden
        deadline = runner.deadline()

        try:
            when = match_dates(as_of, validity)
        except ValueError as exc:  # a malformed date: say how to write it
            return render_error(str(exc)), hidden, hidden

        def work() -> MatchResult:
            profile = profile_from_form(*form, places=find_places(description), max_chars=max_profile_chars)
            return matcher(profile, bool(include_unmet), **when)

        try:
            result = runner.call(work, deadline)
        except DeadlineExceeded:
            log.warning("match exceeded the %.1f s budget", deadline.seconds)
            return render_error(TIMEOUT_MESSAGE), hidden, hidden
        except ProfileError as exc:
            return render_error(str(exc)), hidden, hidden
        except Exception as exc:  # the page stays usable; the reason is logged without user data
            log.exception("match failed")
            return render_error(f"出错了：{type(exc).__name__}"), hidden, hidden
        md, csv = exports.write(result)
        return render_matches(result), gr.update(value=md, visible=True), gr.update(value=csv, visible=True)

    return find


def match_dates(as_of: Any, validity: Any) -> dict[str, Any]:
    """The matcher's ``as_of``/``validity`` keywords from the tab's fields ({} for today, in force only)."""
    from assistant.core.validity import parse_date

    when: dict[str, Any] = {}
    if day := parse_date(as_of):
        when["as_of"] = day
    if validity == "all":
        when["validity"] = "all"
    return when


def _profile_form(place_choices: Sequence[str], settings: Settings) -> list[Any]:
    """The profile's inputs, laid out in the caller's column; returned in ``profile_from_form``'s order."""
    vocab = vocabulary()
    qualifications = [q.name for q in vocab.qualifications.values() if not q.measure_only]
    description = gr.Textbox(
        label="一句话描述企业（可选）",
        placeholder="例如：乐清的一家制造业企业，120人，年营收5000万元，成立3年，专精特新，计划上市",
        lines=2,
        elem_id="pqa-profile-text",
        max_length=settings.max_profile_chars,
    )
    with gr.Row():
        location = gr.Dropdown(
            choices=list(place_choices), allow_custom_value=True, label="所在地", value=None,
            elem_id="pqa-profile-location",
        )  # fmt: skip
        industry = gr.Textbox(label="行业", placeholder="如 制造业、软件和信息技术服务业")
    with gr.Row():
        employees = gr.Number(label="员工人数（0 = 未填）", precision=0, minimum=0, value=None)
        revenue = gr.Number(label="年营业收入（万元，0 = 未填）", minimum=0, value=None)
        age = gr.Number(label="成立年限（年，0 = 未填）", minimum=0, value=None)
    with gr.Row():
        tax = gr.Dropdown(choices=[UNKNOWN_GRADE, *vocab.tax_grades], value=UNKNOWN_GRADE, label="纳税信用等级")
        ownership = gr.Dropdown(choices=[UNKNOWN_GRADE, *vocab.ownership], value=UNKNOWN_GRADE, label="企业性质")
    quals = gr.CheckboxGroup(choices=qualifications, label="资质", elem_id="pqa-profile-quals")
    complete = gr.Checkbox(
        label="资质已全部勾选（未勾选的视为不具备；不勾此项则视为“未说明”）", value=False,
        elem_id="pqa-profile-complete",
    )  # fmt: skip
    plan_box = gr.CheckboxGroup(choices=list(vocab.plans), label="计划", elem_id="pqa-profile-plans")
    return [description, location, industry, employees, revenue, age, tax, quals, plan_box, ownership, complete]


def build_match_tab(
    place_choices: Sequence[str],
    matcher: Matcher,
    settings: Settings,
    runner: Runner,
    find_places: Callable[[str], list[str]] = lambda _: [],
) -> None:
    """The tab's components, created inside the caller's ``gr.Tab``."""
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            form = _profile_form(place_choices, settings)
            show_unmet = gr.Checkbox(label="也显示不符合的措施", value=False)
            with gr.Row():
                as_of, validity = date_fields("pqa-match-asof", "pqa-match-validity", MATCH_VALIDITY)
            with gr.Row():
                run = gr.Button("查找适用措施", variant="primary", elem_id="pqa-match-run")
                md_file = gr.DownloadButton("导出 Markdown", visible=False, elem_id="pqa-match-md")
                csv_file = gr.DownloadButton("导出 CSV", visible=False, elem_id="pqa-match-csv")
        with gr.Column(scale=3, min_width=320):
            output = gr.HTML(EMPTY_MATCHES, elem_id="pqa-matches")

    exports = ExportStore(
        Path(md_file.GRADIO_CACHE) / EXPORTS_FOLDER,
        settings.export_keep,
        settings.export_ttl,
        forget=(md_file.temp_files, csv_file.temp_files),
    )
    find = make_find(matcher, find_places, exports, runner, settings.max_profile_chars)
    inputs = [*form, show_unmet, as_of, validity]
    run.click(find, inputs, [output, md_file, csv_file], api_name="match", show_progress="minimal")
