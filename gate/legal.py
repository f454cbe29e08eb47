"""The legal notice (``/legal``): who runs the service, what it records about members, why, for how long.

The purposes are those of the records the gate and the pipeline keep (docs/storage.md): the
membership list, to let a member in; the last sign-in and the weekly reads of cable pages, for the
community's owner (``diplomatie activity``, gate/readership.py), kept for the retention period and
then reduced to counts; the alert preferences and marks, to e-mail each cable once; the acceptance
of a community's terms of use, where it has some. The server's logs keep their security purpose and
their own retention. Any change to what the gate records changes this page in the same commit.
"""

from __future__ import annotations

import html

from gate.http import Request, Response
from gate.i18n import N_
from gate.state import GateState

PATH = "/legal"
TITLE = N_("Legal notice and personal data")

#: The page's paragraphs and the list of records, in order (translated when shown).
INTRO = N_("This service is run by the French Ministry for Europe and Foreign Affairs, for the communities it "
           "shares diplomatic cables with. Only their members may read them.")
RECORDS_HEAD = N_("What the service records about you, and why:")
RECORDS = (
    N_("your address, your name and your last day of access, from the community's list: to let you in, as "
       "long as you are a member;"),
    N_("your last sign-in to each community: so that its owner knows who uses the service;"),
    N_("which cables you read, once per cable and per week, with nothing else: so that the community's owner "
       "knows how many members read each cable;"),
    N_("how often you want to be told of new cables, and which alerts were sent to you: to e-mail each cable "
       "once;"),
    N_("your acceptance of a community's terms of use, when it has some: to show them to you once per "
       "version."),
)
RETENTION = N_("Sign-ins and reads are kept six months unless the ministry sets another period, then only "
               "counts remain (how many members read each cable per week). The server's logs record "
               "requests for the service's security only, and are kept for their own period.")
RIGHTS = N_("To see or delete what is recorded about you, write to the owner of your community or to the "
            "ministry's data protection officer: deletion removes your records from the service.")


async def legal(gate: GateState, req: Request) -> Response:
    reader = gate.pages.reader(req)
    _ = reader.gettext
    items = "".join(f"<li>{html.escape(_(item))}</li>" for item in RECORDS)
    body = (f"<p>{html.escape(_(INTRO))}</p><p>{html.escape(_(RECORDS_HEAD))}</p><ul>{items}</ul>"
            f"<p>{html.escape(_(RETENTION))}</p><p>{html.escape(_(RIGHTS))}</p>")
    return gate.pages.page(200, reader, _(TITLE), body)
