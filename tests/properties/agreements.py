"""Hypothesis strategies for agreement files (docs/agreement-file.md) and for the people who live by them.

``cases()`` draws a ``Case``: an ``AgreementSpec`` (rendered by ``render`` as YAML text in the
documented format and validated with ``engine.agreement.parse_agreement``) and a ``Script``: how
each responsible unit reports each period, what the process owner does at each revision, whether
a party terminates, and when the mail server is down.

The drawn values lean on the dates that broke agreements in issue 11: signing on 29 February
and 31 December, due month-days on holidays, eves and early in the year, large reminder offsets,
fixed terms, timeframes that start late or end early, the process owner as a responsible unit.
Every choice shrinks towards the plain case (on time, kept, never terminated), so a minimal
failing example shows only what it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Literal

from hypothesis import strategies as st

from engine.agreement import Agreement, parse_agreement
from rules.calendar import add_years

AGREEMENT_ID = "prov"
OWNER = "bra"
PARTIES = ("kommun", "polis")
DOMAIN = "prov.example"

# Month-days worth trying on purpose: New Year's Day, Epiphany, Christmas and New Year's Eve,
# midsommarafton-ish days, 29 February, early-year dates whose reminders fall in December.
DUE_DAYS = (
    "03-31", "01-06", "01-01", "12-31", "12-24", "06-20", "06-19", "06-24", "02-29", "02-10",
    "01-15", "02-01", "12-01", "11-01", "05-01", "06-06", "04-01", "10-31", "01-31", "12-27",
)  # fmt: skip
SIGNED_DAYS = (
    date(2020, 2, 29), date(2016, 2, 29), date(2024, 2, 29), date(2019, 12, 31), date(2023, 12, 31),
    date(2015, 12, 14), date(2021, 1, 1), date(2022, 6, 24), date(2025, 12, 24), date(2028, 2, 29),
)  # fmt: skip
OFFSETS = (0, -7, -30, -1, -3, -10, -14, -21, -45, -60, -90)
SEND_TIMES = (time(8, 0), time(7, 30), time(9, 0), time(10, 45), time(6, 15))


@dataclass(frozen=True, kw_only=True)
class MeasureSpec:
    id: str
    kind: Literal["count", "text"] = "count"
    target: int | None = None
    parties: tuple[str, ...] | None = None


@dataclass(frozen=True, kw_only=True)
class CommitmentSpec:
    party: str
    responsible: str
    text: str


@dataclass(frozen=True, kw_only=True)
class EffortSpec:
    id: str
    area: str
    start: date | None = None
    end: date | None = None
    measures: tuple[MeasureSpec, ...] = ()
    commitments: tuple[CommitmentSpec, ...] = ()

    def commitment(self, party: str) -> CommitmentSpec:
        return next(c for c in self.commitments if c.party == party)


@dataclass(frozen=True, kw_only=True)
class AgreementSpec:
    signed: date
    valid_from: date | None = None
    valid_to: date | None = None
    send_time: time = time(8, 0)
    weekly_summary: bool = False
    first_period: int | None = None
    due: str = "03-31"
    offsets: tuple[int, ...] = (-30, -7, 0)
    overdue_repeat_days: int = 14
    escalation_after_days: int = 14
    every_years: int = 3
    kickoff_days_before: int = 60
    late_repeat_days: int = 30
    shared_owner_mailbox: bool = False
    efforts: tuple[EffortSpec, ...] = ()
    # Efforts that are not in the signed plan: a revision may add them (new ids).
    reserve: tuple[EffortSpec, ...] = ()

    @property
    def starts(self) -> date:
        return self.valid_from or self.signed

    def email(self, unit: str) -> str:
        if unit == "styrgrupp" and self.shared_owner_mailbox:
            return f"{OWNER}@{DOMAIN}"  # a steering group that shares the process owner's mailbox
        return f"{unit}@{DOMAIN}"

    def slots(self) -> list[tuple[str, str]]:
        """Every (effort, party) that can ever be a commitment, in a fixed order (the script's index)."""
        return [(e.id, c.party) for e in (*self.efforts, *self.reserve) for c in e.commitments]


# -- the people ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Report:
    """How a unit reports one period: on time (``days`` before the due day), ``days`` late, or never."""

    kind: Literal["on_time", "late", "never"] = "on_time"
    days: int = 0
    below: bool = False  # a value under its target (a deviation for the process owner)


ON_TIME = Report()


@dataclass(frozen=True, kw_only=True)
class RevisionStep:
    """What the process owner does at revision n (the n-th deadline counted from signing)."""

    complete: bool = True
    delta_days: int = 0  # acts this many days from the deadline (never before the kick-off)
    decisions: tuple[Literal["keep", "change", "remove"], ...] = ()  # by live commitment, default keep
    readd: bool = False  # bring back an effort an earlier revision removed
    add_new: bool = False  # add the next reserve effort
    renew_years: int = 0  # fixed term: the revised plan's valid_to is this many years later


KEEP_ALL = RevisionStep()


@dataclass(frozen=True, kw_only=True)
class Termination:
    announce_day: int  # days after signing
    notice_days: int  # effective this many days after the announcement
    party: str = "kommun"


@dataclass(frozen=True, kw_only=True)
class Outage:
    """The mail server is down for ``days`` days, from ``offset`` days after an anchor: the signing day, the due
    day of the ``index``-th period, or the kick-off of revision ``index`` + 1 — so that queued notices wait while
    the reason for them goes away (a report, a completed revision)."""

    anchor: Literal["signing", "due", "kickoff"] = "signing"
    index: int = 0
    offset: int = 0
    days: int = 1


@dataclass(frozen=True, kw_only=True)
class Script:
    reports: tuple[tuple[Report, ...], ...] = ()  # [slot][period - signed.year]
    revisions: tuple[RevisionStep, ...] = ()  # [n - 1]
    termination: Termination | None = None
    outages: tuple[Outage, ...] = ()
    close_days: int | None = None  # a fixed term over without renewal: the owner closes it this many days later

    def report(self, slot: int, period_index: int) -> Report:
        if slot < len(self.reports) and 0 <= period_index < len(self.reports[slot]):
            return self.reports[slot][period_index]
        return ON_TIME

    def revision(self, n: int) -> RevisionStep:
        return self.revisions[n - 1] if 0 < n <= len(self.revisions) else KEEP_ALL


@dataclass(frozen=True, kw_only=True)
class Case:
    agreement: AgreementSpec
    script: Script = field(default_factory=Script)
    years: int = 10  # how long the engine runs, from the signing date


# -- rendering ------------------------------------------------------------------------------

AREAS = (("trygghet", 1, "En trygg kommun"), ("ant", 2, "Alkohol, narkotika och tobak"))


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(spec: AgreementSpec, efforts: Sequence[EffortSpec] | None = None, valid_to: date | None = None) -> str:
    """The agreement file as a municipality would write it (docs/agreement-file.md)."""
    efforts = spec.efforts if efforts is None else efforts
    valid_to = spec.valid_to if valid_to is None else valid_to
    out = [
        "# Genererad av tests/properties (hypothesis).",
        "format: 1",
        "agreement:",
        f"  id: {AGREEMENT_ID}",
        "  title: Samverkansöverenskommelse mellan Provstad och Polismyndigheten",
        f"  signed: {spec.signed.isoformat()}",
    ]
    if spec.valid_from is not None:
        out.append(f"  valid_from: {spec.valid_from.isoformat()}")
    if valid_to is not None:
        out.append(f"  valid_to: {valid_to.isoformat()}")
    out += [
        "  timezone: Europe/Stockholm",
        f"  process_owner: {OWNER}",
        "parties:",
        "  - id: kommun",
        "    name: Provstads kommun",
        f"    contact: {OWNER}",
        "  - id: polis",
        "    name: Polismyndigheten, lokalpolisområde Provstad",
        "    contact: kommunpolis",
        "units:",
    ]
    for unit, party, name in (
        (OWNER, "kommun", "Brottsförebyggande rådet"),
        ("fritid", "kommun", "Fritidsförvaltningen"),
        ("social", "kommun", "Socialförvaltningen"),
        ("styrgrupp", "kommun", "Drogpolitiska styrgruppen"),
        ("kommunpolis", "polis", "Kommunpolis"),
    ):
        out += [f"  - id: {unit}", f"    name: {name}", f"    party: {party}", f"    email: {spec.email(unit)}"]
    out += [
        "schedule:",
        f'  send_time: "{spec.send_time.strftime("%H:%M")}"',
        f"  weekly_summary: {'true' if spec.weekly_summary else 'false'}",
        "  follow_up:",
        "    period: calendar_year",
    ]
    if spec.first_period is not None:
        out.append(f"    first_period: {spec.first_period}")
    out += [
        f'    due: "{spec.due}"',
        f"    reminder_offsets_days: [{', '.join(str(o) for o in spec.offsets)}]",
        f"    overdue_repeat_days: {spec.overdue_repeat_days}",
        f"    escalation_after_days: {spec.escalation_after_days}",
        "  revision:",
        f"    every_years: {spec.every_years}",
        f"    kickoff_days_before: {spec.kickoff_days_before}",
        f"    late_repeat_days: {spec.late_repeat_days}",
        "areas:",
    ]
    for area, number, title in AREAS:
        mine = [e for e in efforts if e.area == area]
        if not mine:
            continue
        out += [f"  - id: {area}", f"    number: {number}", f"    title: {title}", "    efforts:"]
        for e in mine:
            out += [f"      - id: {e.id}", f"        title: Insats {e.id}", "        timeframe:"]
            if e.start is None and e.end is None:
                out.append("          text: Löpande under perioden")
            else:
                begins = e.start.isoformat() if e.start else "från start"
                span = f"{begins}–{e.end.isoformat() if e.end else 'tills vidare'}"
                out.append(f"          text: {_q(span)}")
            if e.start is not None:
                out.append(f"          start: {e.start.isoformat()}")
            if e.end is not None:
                out.append(f"          end: {e.end.isoformat()}")
            if not e.measures:
                out.append("        measures: []")
            else:
                out.append("        measures:")
                for m in e.measures:
                    out += [
                        f"          - id: {m.id}",
                        f"            text: Aktivitetsmått {m.id}",
                        f"            kind: {m.kind}",
                    ]
                    if m.target is not None:
                        out.append(f"            target: {m.target}")
                    if m.parties is not None:
                        out.append(f"            parties: [{', '.join(m.parties)}]")
            out.append("        commitments:")
            for c in e.commitments:
                out += [
                    f"          {c.party}:",
                    f"            text: {_q(c.text)}",
                    f"            responsible: {c.responsible}",
                ]
    return "\n".join(out) + "\n"


def parse(spec: AgreementSpec, efforts: Sequence[EffortSpec] | None = None, valid_to: date | None = None) -> Agreement:
    """``render`` validated by the engine's own loader (an invalid file is a bug in this generator)."""
    return parse_agreement(render(spec, efforts, valid_to), "genererad.yaml")


# -- strategies -----------------------------------------------------------------------------


@st.composite
def month_days(draw: st.DrawFn) -> str:
    picked = draw(st.one_of(st.sampled_from(DUE_DAYS), st.dates(date(2000, 1, 1), date(2000, 12, 31))))
    return picked if isinstance(picked, str) else picked.strftime("%m-%d")


@st.composite
def measures(draw: st.DrawFn, parties: tuple[str, ...]) -> tuple[MeasureSpec, ...]:
    out = []
    for i in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["target", "count", "text"]))
        only = None
        if len(parties) == 2 and draw(st.booleans()):
            only = (draw(st.sampled_from(parties)),)
        if kind == "text":
            out.append(MeasureSpec(id=f"m{i + 1}", kind="text", parties=only))
        else:
            target = draw(st.integers(1, 3)) if kind == "target" else None
            out.append(MeasureSpec(id=f"m{i + 1}", target=target, parties=only))
    return tuple(out)


@st.composite
def efforts(draw: st.DrawFn, effort_id: str, starts: date, valid_to: date | None) -> EffortSpec:
    parties = draw(st.sampled_from([("kommun", "polis"), ("kommun",), ("polis",)]))
    commitments = []
    for party in parties:
        # Sometimes the process owner itself is responsible (issue 11, point 9).
        pool = ["fritid", OWNER, "social", "styrgrupp"] if party == "kommun" else ["kommunpolis", OWNER]
        responsible = draw(st.sampled_from(pool))
        commitments.append(CommitmentSpec(party=party, responsible=responsible, text=f"{party} i insats {effort_id}."))
    latest_start = valid_to if valid_to is not None else add_years(starts, 6)
    shape = draw(st.sampled_from(["open", "start", "both", "end"]))
    start = end = None
    if shape in ("start", "both"):
        start = draw(st.dates(starts, latest_start))
    if shape in ("end", "both"):
        begin = start or starts
        end = draw(st.dates(begin, add_years(begin, 6)))
    return EffortSpec(
        id=effort_id,
        area=draw(st.sampled_from([a for a, _, _ in AREAS])),
        start=start,
        end=end,
        measures=draw(measures(parties)),
        commitments=tuple(commitments),
    )


@st.composite
def agreement_specs(draw: st.DrawFn) -> AgreementSpec:
    signed = draw(st.one_of(st.sampled_from(SIGNED_DAYS), st.dates(date(2015, 1, 1), date(2034, 12, 31))))
    valid_from = None
    if draw(st.integers(0, 5)) == 5:
        valid_from = signed + timedelta(days=draw(st.integers(1, 120)))
    starts = valid_from or signed
    valid_to = None
    term = draw(st.sampled_from(["open", "open", "years", "year_end", "any"]))
    if term != "open":
        years = draw(st.integers(1, 6))
        if term == "years":
            valid_to = add_years(signed, years) - timedelta(days=1)
        elif term == "year_end":
            valid_to = date(signed.year + years - 1, 12, 31)
        else:
            valid_to = draw(st.dates(add_years(signed, 1), add_years(signed, 6)))
        if valid_to <= starts:
            valid_to = date(starts.year, 12, 31) if date(starts.year, 12, 31) > starts else add_years(starts, 1)
    first_period = draw(st.sampled_from([None, signed.year + 1, signed.year, starts.year]))
    offsets = tuple(sorted(draw(st.lists(st.sampled_from(OFFSETS), min_size=1, max_size=3, unique=True))))
    n_efforts = draw(st.integers(1, 4))
    plan = tuple(draw(efforts(f"e{i + 1}", starts, valid_to)) for i in range(n_efforts))
    reserve = tuple(draw(efforts(f"n{i + 1}", starts, valid_to)) for i in range(draw(st.integers(0, 2))))
    return AgreementSpec(
        signed=signed,
        valid_from=valid_from,
        valid_to=valid_to,
        send_time=draw(st.sampled_from(SEND_TIMES)),
        weekly_summary=draw(st.sampled_from([False, False, True])),
        first_period=first_period,
        due=draw(month_days()),
        offsets=offsets,
        overdue_repeat_days=draw(st.sampled_from([14, 30, 21, 60, 7])),
        escalation_after_days=draw(st.sampled_from([14, 21, 7, 30, 1, 60])),
        every_years=draw(st.integers(1, 5)),
        kickoff_days_before=draw(st.one_of(st.sampled_from([60, 0, 30, 90]), st.integers(0, 90))),
        late_repeat_days=draw(st.sampled_from([30, 14, 60])),
        shared_owner_mailbox=draw(st.booleans()),
        efforts=plan,
        reserve=reserve,
    )


@st.composite
def reports(draw: st.DrawFn) -> Report:
    """Mostly on time (sometimes days early), sometimes late, rarely never: a report never made keeps its
    commitment on that period (overdue notices to the end of the run), so it is rare on purpose."""
    roll = draw(st.integers(0, 99))
    if roll < 70:
        return ON_TIME if roll < 40 else Report(days=draw(st.integers(0, 20)), below=draw(st.booleans()))
    if roll < 96:
        return Report(kind="late", days=draw(st.integers(1, 60)), below=draw(st.booleans()))
    return Report(kind="never")


revision_steps = st.builds(
    RevisionStep,
    complete=st.sampled_from([True, True, True, False]),
    delta_days=st.integers(-20, 40),
    decisions=st.lists(st.sampled_from(["keep", "change", "remove"]), max_size=4).map(tuple),
    readd=st.booleans(),
    add_new=st.booleans(),
    renew_years=st.sampled_from([0, 0, 1, 2, 3]),
)


def outages(years: int) -> st.SearchStrategy[Outage]:
    return st.one_of(
        st.builds(Outage, anchor=st.just("signing"), offset=st.integers(0, years * 365), days=st.integers(1, 10)),
        st.builds(
            Outage,
            anchor=st.sampled_from(["due", "kickoff"]),
            index=st.integers(0, years - 1),
            offset=st.integers(-12, 3),
            days=st.integers(1, 10),
        ),
    )


@st.composite
def scripts(draw: st.DrawFn, spec: AgreementSpec, years: int) -> Script:
    slots = len(spec.slots())
    termination = draw(
        st.one_of(
            st.none(),
            st.builds(
                Termination,
                announce_day=st.integers(0, years * 365),
                notice_days=st.one_of(st.sampled_from([0, 30, 90, 365]), st.integers(0, 365)),
                party=st.sampled_from(PARTIES),
            ),
        )
    )
    return Script(
        reports=tuple(tuple(draw(st.lists(reports(), max_size=years + 1))) for _ in range(slots)),
        revisions=tuple(draw(st.lists(revision_steps, max_size=years))),
        termination=termination,
        close_days=draw(st.one_of(st.none(), st.integers(0, 400))) if spec.valid_to is not None else None,
        outages=tuple(draw(st.lists(outages(years), max_size=2))),
    )


@st.composite
def cases(draw: st.DrawFn, years: int = 10) -> Case:
    spec = draw(agreement_specs())
    parse(spec)  # every generated file is valid; a ValidationError here is a bug in the generator
    return Case(agreement=spec, script=draw(scripts(spec, years)), years=years)


# -- the cases the issue names, always run first (hypothesis ``example``) ------------------------


def _both(effort_id: str, kommun: str = "fritid", polis: str = "kommunpolis", **kw: object) -> EffortSpec:
    return EffortSpec(
        id=effort_id,
        area=str(kw.pop("area", "trygghet")),
        commitments=(
            CommitmentSpec(party="kommun", responsible=kommun, text=f"kommun i insats {effort_id}."),
            CommitmentSpec(party="polis", responsible=polis, text=f"polis i insats {effort_id}."),
        ),
        **kw,  # type: ignore[arg-type]
    )


NAMED_CASES: tuple[Case, ...] = (
    # Borås as signed: 14 December 2015, due 31 March, revision every third year, the owner responsible once.
    Case(
        agreement=AgreementSpec(
            signed=date(2015, 12, 14),
            first_period=2016,
            efforts=(_both("trafik"), _both("bra-samordning", kommun=OWNER), _both("mbu", area="ant")),
        ),
        script=Script(revisions=(RevisionStep(decisions=("keep", "change", "remove")), RevisionStep(readd=True))),
    ),
    # An early-year due date (issue 11, point 1): the -30 and -7 reminders fall in December.
    Case(
        agreement=AgreementSpec(
            signed=date(2019, 12, 31), due="01-06", every_years=2, kickoff_days_before=30, efforts=(_both("e1"),)
        ),
        script=Script(
            reports=((Report(days=10), Report(kind="late", days=20)), (Report(kind="late", days=3),)),
            revisions=(RevisionStep(delta_days=5),),
        ),
    ),
    # Signed on 29 February, revision every 2 years (point 5), due on 29 February as well.
    Case(
        agreement=AgreementSpec(
            signed=date(2020, 2, 29), due="02-29", every_years=2, escalation_after_days=21, efforts=(_both("e1"),)
        ),
        script=Script(termination=Termination(announce_day=2900, notice_days=90)),
    ),
    # Exempelstad (docs/agreement-file.md): a fixed term, signed 29 February, the last revision before the term ends.
    Case(
        agreement=AgreementSpec(
            signed=date(2024, 2, 29),
            valid_from=date(2024, 3, 1),
            valid_to=date(2026, 12, 31),
            first_period=2024,
            every_years=2,
            shared_owner_mailbox=True,
            efforts=(
                EffortSpec(
                    id="trygghetsvandringar",
                    area="trygghet",
                    start=date(2024, 9, 1),
                    end=date(2026, 12, 31),
                    measures=(
                        MeasureSpec(id="antal-vandringar", target=2),
                        MeasureSpec(id="iakttagelser", kind="text"),
                        MeasureSpec(id="anmalda-brott", parties=("polis",)),
                    ),
                    commitments=(
                        CommitmentSpec(party="kommun", responsible="styrgrupp", text="Leda trygghetsvandringar."),
                        CommitmentSpec(party="polis", responsible="kommunpolis", text="Delta i vandringarna."),
                    ),
                ),
            ),
        ),
        script=Script(reports=((Report(below=True), Report(kind="late", days=30)),), close_days=30),
    ),
)
