"""The ``samverkan`` command line's arguments: every command, its options and its help text.

Each subcommand's ``func`` is its function in the command group's module; ``main`` in
``samverkan.cli`` calls it with the parsed arguments and the clock.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from notifications.report import CSV_FORMS, FILE_FORMATS
from rules import lifecycle
from rules.model import OutboxState
from samverkan.cli.common import EXIT_USAGE

# argparse's own usage errors, in Swedish (its messages are English and not translated by Python).
_SWEDISH = (
    (re.compile(r"^argument (\S+): invalid choice: (.*) \(choose from (.*)\)$"), r"\1: ogiltigt val \2 (giltiga: \3)"),
    (re.compile(r"^argument (\S+): expected one argument$"), r"\1: ett värde saknas"),
    (re.compile(r"^argument (\S+): invalid (\S+) value: (.*)$"), r"\1: ogiltigt värde \3"),
    (re.compile(r"^the following arguments are required: (.*)$"), r"saknas: \1"),
    (re.compile(r"^unrecognized arguments: (.*)$"), r"okända argument: \1"),
    (re.compile(r"^ambiguous option: (\S+) could match (.*)$"), r"tvetydigt alternativ \1 (kan vara \2)"),
    (re.compile(r"^argument (\S+): expected at most one argument$"), r"\1: högst ett värde"),
    (re.compile(r"^argument (\S+): expected at least one argument$"), r"\1: minst ett värde saknas"),
    (re.compile(r"^argument (\S+): expected (\d+) arguments?$"), r"\1: \2 värden väntades"),
    (re.compile(r"^argument (\S+): not allowed with argument (\S+)$"), r"\1: går inte att kombinera med \2"),
    (re.compile(r"^argument (\S+): ignored explicit argument (.*)$"), r"\1: tar inget värde (fick \2)"),
    (re.compile(r"^one of the arguments (.*) is required$"), r"ett av dessa krävs: \1"),
)


def swedish(message: str) -> str:
    for pattern, text in _SWEDISH:
        if pattern.match(message):
            return pattern.sub(text, message)
    return message


class _Formatter(argparse.HelpFormatter):
    """argparse's help text with a Swedish "usage:" (Python has no Swedish catalogue for it)."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "användning: " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse, but its help is Swedish and a usage error is one Swedish line (and still exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        add_help = kwargs.get("add_help", True)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        # The group titles and -h are argparse's English defaults; replacing them here covers
        # every subcommand too, since each is built with this class.
        self._positionals.title = "argument"
        self._optionals.title = "alternativ"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="visa den här hjälpen och avsluta"
            )

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: fel: {swedish(message)} (se '{self.prog} --help')\n")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # ``--hours=--``: Python 3.11's argparse drops the "--" that is the option's value and
        # hands the command an empty list (AttributeError: 'list' object has no attribute
        # 'replace'). The value typed is "--", and the command refuses it as it would any other.
        if action.option_strings and action.nargs in (None, argparse.OPTIONAL) and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="databas-URL (annars SAMVERKAN_DB, annars sqlite:///samverkan.db)",
    )


def _user_options(r: argparse.ArgumentParser) -> None:
    """Who a new user is: ``user add`` and ``user invite`` ask the same."""
    r.add_argument("email", metavar="E-POST")
    r.add_argument("--role", required=True, metavar="ROLL", help="owner | party | unit")
    r.add_argument("--party", metavar="PART", help="parten, för --role party")
    r.add_argument("--unit", metavar="ENHET", help="enheten, för --role unit")
    r.add_argument("--name", metavar="NAMN", help="namnet som syns i historiken")


def _settings_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--settings",
        default=argparse.SUPPRESS,
        metavar="FIL",
        help="inställningar för utskick (YAML; annars SAMVERKAN_SETTINGS, annars .eml-filer i ./outbox)",
    )


# Without an offset, a time typed for a command is wall-clock time in the zone of the
# agreement it is about (the one named, the commitment's, or the one all share), else
# Europe/Stockholm, the file format's default (samverkan.cli.common.When).
def _rehearsal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--now",
        metavar="ISO",
        help="generalrepetition: registrera som vid denna tidpunkt, t.ex. 2027-03-01T08:00 "
        "(utan zon: överenskommelsens tidszon, normalt svensk tid)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="samverkan", description="Håller en samverkansöverenskommelse levande år efter år.")
    _db_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="KOMMANDO", parser_class=_Parser)

    p = sub.add_parser("validate", help="kontrollera en överenskommelsefil")
    p.add_argument("file", metavar="FIL")
    p.set_defaults(func="plan:cmd_validate")

    p = sub.add_parser("init", help="skapa eller uppgradera databasen och läs in överenskommelsen")
    _db_option(p)
    p.add_argument("--config", required=True, metavar="FIL")
    _rehearsal_option(p)
    p.set_defaults(func="plan:cmd_init")

    # -- import (issue 18): its own block, apart from the other commands' --
    p = sub.add_parser(
        "import",
        help="gör ett utkast till överenskommelsefil ur det undertecknade dokumentet (.docx eller text)",
        description="Läser överenskommelsen (Word .docx eller en textexport med tabbar mellan kolumnerna) "
        "och skriver ett utkast till överenskommelsefil. Gissningar märks '# KONTROLLERA:' och "
        "platshållaradresser '# TODO'; en sammanfattning skrivs ut.",
    )
    p.add_argument("file", metavar="FIL")
    p.add_argument("--out", metavar="UTKAST.yaml", help="filen att skriva (annars skrivs utkastet ut i terminalen)")
    p.add_argument("--id", metavar="ID", help="överenskommelsens id (annars gissat ur kommunens namn)")
    p.set_defaults(func="importing:cmd_import")
    # -- end of import --

    p = sub.add_parser("status", help="visa varje åtagandes status")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--party", metavar="PART")
    p.add_argument("--unit", metavar="ENHET")
    p.add_argument("--state", metavar="STATUS")
    p.set_defaults(func="commitments:cmd_status")

    p = sub.add_parser("history", help="visa ett åtagandes historik")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func="commitments:cmd_history")

    p = sub.add_parser("transition", help="flytta ett åtagande för hand (processägaren)")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("trigger", metavar="ÖVERGÅNG", help=", ".join(lifecycle.TRIGGERS))
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--why", required=True, metavar="TEXT")
    _rehearsal_option(p)
    p.set_defaults(func="commitments:cmd_transition")

    p = sub.add_parser("followup", help="registrera ett åtagandes uppföljning för en period")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("--period", required=True, metavar="ÅR")
    p.add_argument("--value", action="append", default=[], metavar="MÅTT=VÄRDE")
    p.add_argument("--comment", required=True, metavar="TEXT")
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--hours", metavar="TIMMAR", help="nedlagd tid i timmar (frivilligt)")
    p.add_argument("--replace", action="store_true", help="rätta en registrerad uppföljning (den tidigare sparas)")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func="commitments:cmd_followup")

    p = sub.add_parser("extend", help="ge anstånd: ny sista dag för ett åtagandes uppföljning (processägaren)")
    _db_option(p)
    p.add_argument("commitment", metavar="ÅTAGANDE")
    p.add_argument("--period", required=True, metavar="ÅR")
    p.add_argument("--due", required=True, metavar="ÅÅÅÅ-MM-DD", help="den nya sista dagen")
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func="commitments:cmd_extend")

    p = sub.add_parser("overdue", help="processägarens genomgång: försenat, avvikelser, olevererat")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func="commitments:cmd_overdue")

    p = sub.add_parser("revision", help="revideringen av åtagandeplanen: start, decide, complete, status")
    rsub = p.add_subparsers(dest="revision_command", required=True, metavar="STEG", parser_class=_Parser)
    r = rsub.add_parser("start", help="inled revideringen (skickar revideringsstarten)")
    _db_option(r)
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--agreement", metavar="ID")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func="revision:cmd_start")
    r = rsub.add_parser("decide", help="beslut för ett åtagande: keep, change eller remove")
    _db_option(r)
    r.add_argument("commitment", metavar="ÅTAGANDE")
    r.add_argument("decision", metavar="BESLUT", help="keep | change | remove")
    r.add_argument("--text", required=True, metavar="TEXT")
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func="revision:cmd_decide")
    r = rsub.add_parser("complete", help="anta den reviderade planen (ny planversion)")
    _db_option(r)
    r.add_argument("--config", required=True, metavar="NY_FIL")
    r.add_argument("--by", default="processägaren", metavar="NAMN")
    r.add_argument("--now", metavar="ISO")
    r.set_defaults(func="revision:cmd_complete")
    r = rsub.add_parser("status", help="visa pågående revidering och besluten")
    _db_option(r)
    r.add_argument("--agreement", metavar="ID")
    r.set_defaults(func="revision:cmd_status")

    p = sub.add_parser("plan", help="planversioner")
    psub = p.add_subparsers(dest="plan_command", required=True, metavar="STEG", parser_class=_Parser)
    r = psub.add_parser("diff", help="vad som ändrats mellan två planversioner")
    _db_option(r)
    r.add_argument("v1", metavar="V1")
    r.add_argument("v2", metavar="V2")
    r.add_argument("--agreement", metavar="ID")
    r.set_defaults(func="plan:cmd_plan_diff")
    r = psub.add_parser(
        "export",
        help="skriv den gällande planversionen som en överenskommelsefil (läses in med 'init --config')",
    )
    _db_option(r)
    r.add_argument("--agreement", metavar="ID")
    r.add_argument("--out", metavar="FIL", help="filen att skriva (annars skrivs planen ut i terminalen)")
    r.set_defaults(func="plan:cmd_plan_export")

    p = sub.add_parser("report", help="årsrapporten (html, md, csv, pdf, docx eller xlsx)")
    _db_option(p)
    p.add_argument("--period", required=True, metavar="ÅR")
    p.add_argument("--format", choices=FILE_FORMATS, default="html")
    p.add_argument(
        "--csv-format",
        choices=CSV_FORMS,
        default="excel",
        help=(
            "excel: semikolon, UTF-8 med BOM och svenska rubriker (standard); "
            "plain: kommatecken och engelska rubriker som tidigare"
        ),
    )
    p.add_argument("--out", required=True, metavar="FIL")
    p.add_argument("--agreement", metavar="ID")
    p.add_argument(
        "--analysis",
        metavar="FIL",
        help="spara processägarens analys och slutsatser för perioden från en textfil (UTF-8, "
        "en tom rad börjar ett nytt stycke) och ta sedan fram rapporten med den",
    )
    p.add_argument("--by", metavar="NAMN", help="vem som skrev analysen (krävs med --analysis)")
    p.add_argument("--now", metavar="ISO")
    _settings_option(p)  # its base_url: the report links to the web's accessibility statement
    p.set_defaults(func="reports:cmd_report")

    p = sub.add_parser("calendar", help="kommande sista dagar som .ics (Outlook, Google Kalender)")
    _db_option(p)
    who = p.add_mutually_exclusive_group()
    who.add_argument("--unit", metavar="ENHET")
    who.add_argument("--party", metavar="PART")
    p.add_argument("--out", required=True, metavar="FIL.ics")
    p.add_argument("--now", metavar="ISO")
    _settings_option(p)  # its base_url: the events link to the web's pages
    p.set_defaults(func="reports:cmd_calendar")

    p = sub.add_parser("serve", help="webbgränssnittet: översikt, uppföljning via länk i e-post (docs/web.md)")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--host", default="127.0.0.1", metavar="VÄRD", help="adress att lyssna på (standard 127.0.0.1)")
    p.add_argument("--port", default="8080", metavar="PORT", help="port (standard 8080)")
    p.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        help="generalrepetition som 'run --from': webbens klocka går från denna tidpunkt",
    )
    p.set_defaults(func="web:cmd_serve")

    p = sub.add_parser("user", help="användare som loggar in på webben")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="STEG", parser_class=_Parser)
    r = usub.add_parser("add", help="skapa en användare (lösenord från SAMVERKAN_PASSWORD eller en fråga)")
    _db_option(r)
    _user_options(r)
    r.set_defaults(func="web:cmd_user_add")
    r = usub.add_parser(
        "invite",
        help="bjud in en användare: ett e-postmeddelande med en länk där hen väljer lösenord "
        "(skickas med nästa utskick, 'samverkan run')",
    )
    _db_option(r)
    _user_options(r)
    r.set_defaults(func="web:cmd_user_invite")
    r = usub.add_parser(
        "passwd",
        help="nytt lösenord för en användare (från SAMVERKAN_PASSWORD eller en fråga); "
        "alla användarens inloggningar på webben avslutas",
    )
    _db_option(r)
    r.add_argument("email", metavar="E-POST")
    r.set_defaults(func="web:cmd_user_passwd")
    r = usub.add_parser("remove", help="ta bort en användare; alla användarens inloggningar på webben avslutas")
    _db_option(r)
    r.add_argument("email", metavar="E-POST")
    r.set_defaults(func="web:cmd_user_remove")
    r = usub.add_parser("list", help="visa alla användare: e-post, namn, roll, part eller enhet")
    _db_option(r)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func="web:cmd_user_list")

    p = sub.add_parser("tick", help="utvärdera alla regler en gång, nu eller vid --now")
    _db_option(p)
    p.add_argument(
        "--now",
        metavar="ISO",
        help="tidpunkt, t.ex. 2027-03-01T08:00+01:00 (utan zon: överenskommelsens tidszon, normalt svensk tid)",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func="mail:cmd_tick")

    p = sub.add_parser("run", help="kör schemaläggaren tills Ctrl-C/SIGTERM (regler och utskick)")
    _db_option(p)
    _settings_option(p)
    p.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        help="generalrepetition: klockan går från denna tidpunkt i stället för nu (t.ex. 2027-03-01T08:00)",
    )
    p.add_argument(
        "--retry-seconds",
        default="60",
        metavar="SEKUNDER",
        help="när ett uppvaknande misslyckas (t.ex. databasen startas om): försök igen efter så många sekunder, "
        "i verklig tid även med --from (1–86400; standard 60)",
    )
    p.set_defaults(func="mail:cmd_run")

    p = sub.add_parser("outbox", help="visa notiser och deras status")
    _db_option(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--state", choices=[s.value for s in OutboxState])
    p.set_defaults(func="mail:cmd_outbox")

    p = sub.add_parser(
        "gallra",
        help="flytta gamla skickade, återkallade och visade misslyckade notiser ur utkorgen till en arkivfil",
        description="Flyttar notiser ur utkorgen till en gzip-fil med en JSON-rad per notis (läsbar med zcat): "
        "skickade, återkallade och misslyckade som processägaren har fått besked om, från före DATUM. "
        "Väntande notiser, historiken, uppföljningarna och revideringarna rörs aldrig.",
    )
    _db_option(p)
    p.add_argument(
        "--before", required=True, metavar="DATUM", help="gallra det som är från före detta datum (ÅÅÅÅ-MM-DD)"
    )
    p.add_argument(
        "--archive",
        required=True,
        metavar="FIL",
        help="arkivfilen som skrivs (t.ex. gallring-2027-01-01.jsonl.gz); finns den redan slutförs den gallringen",
    )
    p.add_argument("--dry-run", action="store_true", help="visa vad som skulle gallras; ändra ingenting")
    _rehearsal_option(p)
    p.set_defaults(func="prune:cmd_gallra")

    p = sub.add_parser("deliver", help="skicka det som är dags att skicka, en gång")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func="mail:cmd_deliver")

    p = sub.add_parser("notify-change", help="meddela ändrade förutsättningar till den andra parten")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--party", required=True, metavar="PART")
    p.add_argument("--text", required=True, metavar="TEXT")
    p.add_argument("--commitment", action="append", default=[], metavar="ÅTAGANDE")
    p.add_argument("--by", default="", metavar="NAMN")
    p.add_argument("--agreement", metavar="ID")
    _rehearsal_option(p)
    p.set_defaults(func="mail:cmd_notify_change")

    p = sub.add_parser("terminate", help="säg upp överenskommelsen")
    _db_option(p)
    _settings_option(p)
    p.add_argument("--party", required=True, metavar="PART")
    p.add_argument("--effective", required=True, metavar="DATUM")
    p.add_argument("--reason", required=True, metavar="TEXT")
    p.add_argument("--by", default="", metavar="NAMN")
    p.add_argument("--agreement", metavar="ID")
    _rehearsal_option(p)
    p.set_defaults(func="mail:cmd_terminate")

    p = sub.add_parser("close", help="avsluta en tidsbegränsad överenskommelse vars giltighetstid är slut")
    _db_option(p)
    p.add_argument("--agreement", metavar="ID")
    p.add_argument("--by", required=True, metavar="NAMN")
    p.add_argument("--why", required=True, metavar="TEXT")
    p.add_argument("--now", metavar="ISO")
    p.set_defaults(func="mail:cmd_close")

    p = sub.add_parser("simulate", help="kör motorn på en virtuell klocka i en minnesdatabas; skickar inget")
    p.add_argument("--config", required=True, metavar="FIL")
    p.add_argument("--from", dest="start", required=True, metavar="DATUM")
    p.add_argument("--to", dest="end", required=True, metavar="DATUM")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--follow-ups",
        choices=("on-time", "late", "never"),
        default="on-time",
        help="simulerade uppföljningar: i tid på förfallodagen (standard), sent (20 dagar efter förfallodagen,"
        " när påminnelserna om försenad rapport och eskaleringen har gått) eller aldrig",
    )
    p.add_argument(
        "--revisions",
        choices=("completed", "never"),
        default="completed",
        help="simulerade revideringar: genomförs på förfallodagen (standard) eller aldrig",
    )
    p.set_defaults(func="plan:cmd_simulate")
    return parser
