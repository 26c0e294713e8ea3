"""The one door: what the CLI and the web may call to change or read the stored state.

Rules of this package:

* Every function takes the database (``engine.db.Database``, opened with
  ``engine.db.connect``) and, where time matters, an explicit ``now``; it opens its own
  transaction, commits it, and returns frozen keyword-only values. No ORM row, session
  or SQL crosses the door, so an edge cannot write half a command or read a row that a
  command is changing.
* ``commands`` changes things; each command returns what it queued in the outbox, so no
  edge rebuilds an outbox key to find out.
* The read models answer exactly what a page or a command prints; the decisions they
  show (which agreement, whether a period may be recorded, which measures apply to a
  party, whether a value is below its target) are made once, in the engine or in rules.
* An error is a ``rules.errors.SamverkanError``; ``InvalidValue.field`` names the value
  in the engine's words, and each edge spells it its own way (``--by``, the form field).
"""
