"""Imported last by the extraction pool's forkserver (pipeline.extract.pool), for its side
effects: what every worker would otherwise load for itself after the fork is loaded here once,
before it, so that the workers share those pages instead of each holding a copy (and a
recycled worker starts warm).

- py3langid's model (74 MB, 0.5 s): a worker loads it on its first page whose language must be
  identified (an Arabic-script body, or nothing declared).
- dateparser's 205 locales (43 MB, 1.2 s): htmldate's last resort parses a date string in
  every language, and dateparser loads and compiles each locale on first use, so a worker
  loaded them piecemeal over its first hundred pages.
- ``gc.freeze()``: everything loaded so far leaves the collector's generations, so a worker's
  collections do not write to (and so copy) the forkserver's objects.
"""

import gc

from htmldate.extractors import get_external_parser

from pipeline.extract.language import load_model

# A date no locale reads: dateparser tries, and so loads, every one of them.
UNREADABLE_DATE = "1 qqqq 2000"


def warm_up() -> None:
    load_model()
    get_external_parser().get_date_data(UNREADABLE_DATE)


warm_up()
gc.freeze()
