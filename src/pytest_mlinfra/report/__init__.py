"""Reports people look at: the JSON summary (``--mlinfra-json``), the self-contained HTML report with
plots (``--mlinfra-report``), the cost projection, and the live progress lines on the terminal.

Nothing here is imported until a session asks for a report or shows progress; matplotlib (the
``report`` extra) only when the HTML report is written.
"""
