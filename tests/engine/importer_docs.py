"""Documents the import tests build: an invented agreement as a Word file (python-docx).

Exempelby kommun and the police, a fixed term, three areas unlike Borås's, and rows where
one party has no commitment. ``EXPECTED`` is what a draft of it must hold.
"""

from __future__ import annotations

import io

import docx

HEADER = ("Insats/mål", "Kommunens åtagande", "Polisens åtagande", "Tidsplan", "Aktivitetsmått", "Uppföljning")
AREAS = (
    (
        "1. Ungas trygghet i centrum",
        (
            (
                "Nattvandring",
                "Samordna nattvandrare varje helg. Socialförvaltningen ansvarar.",
                "Delta i nattvandringen två kvällar i månaden.",
                "2024-2026",
                "Antal nattvandringar och antal deltagare.",
            ),
            ("Skolbesök", "", "Besöka skolorna i årskurs 8. Närpolisen ansvarar.", "Löpande", "Antal skolbesök."),
        ),
    ),
    (
        "2. Trafiksäkerhet kring skolor",
        (
            (
                "Hastighet vid skolor",
                "Sätta upp skyltar och farthinder. Samhällsbyggnadsförvaltningen ansvarar för fysiska åtgärder.",
                "Hastighetskontroller minst 4 ggr/år.",
                "Varje termin",
                "Antal kontroller.",
            ),
            (
                "Cykelhjälm",
                "Dela ut hjälmar till elever i årskurs 4. Barn- och utbildningsförvaltningen ansvarar.",
                "",
                "2025",
                "Antal utdelade hjälmar.",
            ),
        ),
    ),
    (
        "3. Brott i nära relationer",
        (
            (
                "Stöd till våldsutsatta",
                "Erbjuda stödsamtal. Ansvariga är kvinnofridsgruppen.",
                "Hänvisa brottsutsatta till kommunens stöd.",
                "Löpande under perioden",
                "Verksamhetsberättelse",
            ),
        ),
    ),
)
EXPECTED = {
    "areas": ["Ungas trygghet i centrum", "Trafiksäkerhet kring skolor", "Brott i nära relationer"],
    "efforts": ["Nattvandring", "Skolbesök", "Hastighet vid skolor", "Cykelhjälm", "Stöd till våldsutsatta"],
    "commitments": {
        "Nattvandring": {"kommun": "Socialförvaltningen", "polis": "Kommunpolis, lokalpolisområde Exempelby"},
        "Skolbesök": {"polis": "Kommunpolis, lokalpolisområde Exempelby"},
        "Hastighet vid skolor": {
            "kommun": "Samhällsbyggnadsförvaltningen",
            "polis": "Kommunpolis, lokalpolisområde Exempelby",
        },
        "Cykelhjälm": {"kommun": "Barn- och utbildningsförvaltningen"},
        "Stöd till våldsutsatta": {
            "kommun": "Kvinnofridsgruppen",
            "polis": "Kommunpolis, lokalpolisområde Exempelby",
        },
    },
}


def exempelby_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Samverkansöverenskommelse")
    document.add_paragraph("mellan")
    document.add_paragraph("Exempelby kommun och Polismyndigheten, lokalpolisområde Exempelby")
    document.add_heading("Överenskommelse", level=1)
    document.add_paragraph(
        "Exempelby kommun och Polismyndigheten, lokalpolisområde Exempelby, träffar följande överenskommelse "
        "om samverkan i det brottsförebyggande arbetet."
    )
    document.add_paragraph(
        "Överenskommelsen gäller från 1 mars 2024 till och med 31 december 2027. Planen revideras vartannat år."
    )
    document.add_paragraph("Trygghetsrådet i Exempelby är processägare. Uppföljning görs årligen.")
    document.add_paragraph("Exempelby den 20 februari 2024")
    document.add_paragraph("Eva Ek")
    document.add_paragraph("Kommunstyrelsens ordförande")
    document.add_paragraph("Exempelby den 20 februari 2024")
    document.add_paragraph("Olle Ohlsson")
    document.add_paragraph("Lokalpolisområdeschef")
    document.add_heading("Åtagandeplan", level=1)
    for heading, rows in AREAS:
        document.add_heading(heading, level=2)
        table = document.add_table(rows=1 + len(rows), cols=len(HEADER))
        for i, text in enumerate(HEADER):
            table.rows[0].cells[i].text = text
        for r, row in enumerate(rows, start=1):
            for i, text in enumerate(row):
                table.rows[r].cells[i].text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
