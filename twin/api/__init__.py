"""The one door to every capability, called by the commands, the dashboard, the report and the demo.

``docs/python.md`` walks through it.

Rules of this layer:

- Arguments are typed values (paths, dates, ids, frozen specs); nothing here sees an ``argparse.Namespace``
  or parses a command's printed output.
- Results are frozen dataclasses holding polars frames and plain values; each has ``to_dict()`` giving
  the JSON object its command prints under ``--json``.
- It sits above every domain package (``cell`` .. ``report``) and below ``twin.cli`` and ``apps/``;
  no domain package imports it.
"""
