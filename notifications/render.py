"""Turn a notice's context into a mail: a one-line subject, a plain-text body and an HTML body.

Each kind of notice has three templates, ``{kind}.subject.txt``, ``{kind}.txt`` and
``{kind}.html`` (the HTML ones extend ``_layout.html``). A user may keep a folder of
their own templates: a file there overrides ours by name, anything it lacks falls
back to ours. HTML is autoescaped, plain text is not; an undefined variable is an
error, never an empty string. Text that a person typed (a changed-conditions notice,
a follow-up comment) is data: it is printed, never evaluated as a template.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.exceptions import FilterArgumentError

from rules import texts
from rules.errors import SamverkanError

KINDS = (
    "reminder",
    "overdue",
    "escalation",
    "revision_kickoff",
    "revision_overdue",
    "change_notice",
    "termination_notice",
    "deviation",
    "digest",
    "delivery_failed",
    "weekly_summary",
    "invite",
)

SUBJECT_MAX = 200
KIND_NAMES = texts.KIND_NAMES


class TemplateError(SamverkanError):
    """A template that is missing or cannot be rendered with the context it was given."""

    def __init__(self, template: str, problem: str) -> None:
        self.template = template
        self.problem = problem
        super().__init__(f"mallen '{template}': {problem}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# -- filters --------------------------------------------------------------------------


def _filter(fn: Callable[..., str]) -> Callable[..., str]:
    """``fn`` from rules.texts as a template filter: its ValueError is Jinja's FilterArgumentError."""

    @functools.wraps(fn)
    def wrapped(*args: Any) -> str:
        try:
            return fn(*args)
        except ValueError as exc:
            raise FilterArgumentError(str(exc)) from None

    return wrapped


datum = _filter(texts.datum)
datumtid = _filter(texts.datumtid)


def _zone(context: Any) -> ZoneInfo:
    """The zone of the agreement a template renders for; the file format's default otherwise."""
    agreement = context.get("agreement")
    name = agreement.get("timezone") if isinstance(agreement, dict) else getattr(agreement, "timezone", None)
    return ZoneInfo(name) if isinstance(name, str) and name else texts.DEFAULT_ZONE


@jinja2.pass_context
def _datumtid_in_zone(context: Any, value: datetime | str) -> str:
    return datumtid(value, _zone(context))


@jinja2.pass_context
def _datum_in_zone(context: Any, value: date | datetime | str) -> str:
    return datum(value, _zone(context))


antal_dagar = texts.days
tal = texts.tal


def tillstand(value: str) -> str:
    """A commitment state as a person reads it."""
    return texts.name(texts.STATE_NAMES, str(value))


def slag(kind: str) -> str:
    """A notice kind's Swedish name (unknown kinds are shown as they are)."""
    return texts.kind_name(kind)


# The same two filters for an environment whose contexts name their agreement (a mail's
# ``agreement``, a page's agreement shown): an instant is shown in that agreement's zone.
ZONED_FILTERS: dict[str, Callable[..., str]] = {"datum": _datum_in_zone, "datumtid": _datumtid_in_zone}

FILTERS: dict[str, Callable[..., str]] = {
    "datum": datum,
    "datumtid": datumtid,
    "tillstand": tillstand,
    "antal_dagar": antal_dagar,
    "tal": tal,
    "slag": slag,
    "i_titel": texts.in_title,
    "vem": texts.actor,
}


# -- the environment ------------------------------------------------------------------


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """Jinja, with ``a.b`` on a plain dict looked up as a key first.

    The contexts (notifications.context) are plain dicts, and Jinja's own ``getattr``
    tries the attribute first: one AttributeError raised and caught per ``a.b``, about
    75 a reminder, a fifth of its rendering time (bench/mail.py). The result is the
    same as Jinja's order: a dict instance has no attributes but its class's, and
    those still win (``d.items`` is the method, as before).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _packaged(name: str) -> tuple[str, str | None, Callable[[], bool] | None] | None:
    """Our own templates, read through importlib.resources (works from a wheel or a zip)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    resource = files("notifications") / "templates" / name
    if not resource.is_file():
        return None
    return resource.read_text(encoding="utf-8"), str(resource), lambda: True


# `{% include "name" %}` alone on its line (lstrip_blocks and trim_blocks take the line's
# indentation and newline with the tag, so pasting the partial there gives the same text).
_INCLUDE_LINE = re.compile(r'^[ \t]*\{%[ \t]+include[ \t]+"([^"\n]+)"[ \t]+%\}(?:\n|\Z)', re.MULTILINE)
# A partial whose text would mean something else pasted than included: it has a scope of its own.
_OWN_SCOPE = re.compile(r"\{%-?\s*(?:set|block|extends|macro|import|from|call|filter)\b|\bself\.|\bsuper\(")

_RAW = re.compile(r"\{%-?\s*raw\b")


class _InliningLoader(jinja2.BaseLoader):
    """The same templates, with each plain ``{% include %}`` of a partial pasted in.

    An include costs a new template context and a cache lookup per render, a third of a
    reminder's rendering time (bench/mail.py); pasted, the partial's text is compiled
    into the template that includes it. Only where that renders the same text: the tag
    alone on its line, the partial found, not already being pasted (a loop), and no
    scope of its own (``set``, blocks, macros, imports, ``self``); a partial's own
    includes are pasted first. Partials are looked up through the same
    loader, so a user's own ``_commitment.html`` is pasted instead of ours, and an edit
    to it is picked up like an edit to the template itself.
    """

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        checks = [uptodate]

        def expand(text: str, within: frozenset[str]) -> str:
            def paste(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in within:
                    return match.group(0)
                try:
                    partial, _, partial_uptodate = self.inner.get_source(environment, name)
                except jinja2.TemplateNotFound:
                    return match.group(0)  # the include itself reports it
                if _OWN_SCOPE.search(partial) or _RAW.search(partial):
                    return match.group(0)
                checks.append(partial_uptodate)
                return expand(partial, within | {name})

            return _INCLUDE_LINE.sub(paste, text)

        # An include tag inside {% raw %} is text, not an include: such a template stays as written.
        inlined = source if _RAW.search(source) else expand(source, frozenset({template}))
        return inlined, filename, lambda: all(check is None or check() for check in checks)


def _loader(templates_dir: Path | None) -> jinja2.BaseLoader:
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(templates_dir, encoding="utf-8"))
    loaders.append(jinja2.FunctionLoader(_packaged))
    return jinja2.ChoiceLoader(loaders)


@functools.cache
def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The environment for one user template folder (or none), built once: templates as written."""
    return _environment_with(_loader(templates_dir))


@functools.cache
def _inlined_environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """The same templates with their partials pasted in: what ``render`` renders with."""
    return _environment_with(_InliningLoader(_loader(templates_dir)))


def _environment_with(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = _Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        # An {% include %} pastes whole lines: the partial keeps its final newline.
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.filters.update(ZONED_FILTERS)
    return env


# -- rendering ------------------------------------------------------------------------


def _failing_template(exc: BaseException, fallback: str) -> tuple[str, int | None]:
    """The template file and line where a render error happened (innermost template frame)."""
    name, line = fallback, None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            name, line = Path(tb.tb_frame.f_code.co_filename).name, tb.tb_lineno
        tb = tb.tb_next
    return name, line


def _render_one(name: str, context: Mapping[str, Any], templates_dir: Path | None) -> str:
    try:
        return _inlined_environment(templates_dir).get_template(name).render(context)
    except Exception:
        pass  # rendered again below, as written, to report the right file and line
    env = environment(templates_dir)
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        missing = exc.name if isinstance(exc.name, str) else name
        where = f"varken i {templates_dir} eller" if templates_dir is not None else "inte"
        hint = f" (kända slag: {', '.join(KINDS)})" if missing == name else ""
        raise TemplateError(missing, f"finns {where} bland de inbyggda mallarna{hint}") from exc
    except jinja2.TemplateSyntaxError as exc:
        template = Path(exc.filename).name if exc.filename else (exc.name or name)
        raise TemplateError(template, f"rad {exc.lineno}: syntaxfel: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        template, line = _failing_template(exc, name)
        at = f"rad {line}: " if line else ""
        raise TemplateError(template, f"{at}värde saknas i meddelandets innehåll ({exc.message})") from exc
    except (jinja2.TemplateError, TypeError, ValueError) as exc:
        template, line = _failing_template(exc, name)
        at = f"rad {line}: " if line else ""
        raise TemplateError(template, f"{at}kan inte fyllas i ({exc})") from exc


def one_line(subject: str) -> str:
    """A mail subject: all whitespace (CR and LF included) collapsed to single spaces, capped."""
    line = " ".join(subject.split())
    if len(line) > SUBJECT_MAX:
        line = line[: SUBJECT_MAX - 1].rstrip() + "…"
    return line


def render_subject(kind: str, context: Mapping[str, Any], *, templates_dir: Path | None = None) -> str:
    """Only the subject line of one notice (a weekly summary folded into the grouped mail)."""
    return one_line(_render_one(f"{kind}.subject.txt", dict(context), templates_dir))


def render(kind: str, context: Mapping[str, Any], *, templates_dir: Path | None = None) -> Rendered:
    """Render the subject, plain-text body and HTML body of one notice."""
    context = dict(context)
    subject = one_line(_render_one(f"{kind}.subject.txt", context, templates_dir))
    text = _render_one(f"{kind}.txt", context, templates_dir).rstrip() + "\n"
    html = _render_one(f"{kind}.html", context, templates_dir).rstrip() + "\n"
    return Rendered(subject=subject, text=text, html=html)
