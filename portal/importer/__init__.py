"""Importing staff spreadsheets (regions, quotas, applicant households with votes).

One code path behind two doors (``flask --app portal import`` and the console's upload page):
read CSV in UTF-8/GBK/GB18030 or XLSX as it comes from Excel or WPS, find the header row by Chinese
synonyms, validate row by row, and write all or nothing in one transaction. Rows stream through;
writes go in batches; a file with any error rolls back everything it wrote.
"""

from __future__ import annotations

from .cli import import_command
from .parallel import child_main
from .run import import_file
from .shapes import KINDS, MAX_COUNT, ImportFileError, Problem, Report, Scope

__all__ = ["KINDS", "MAX_COUNT", "ImportFileError", "Problem", "Report", "Scope", "child_main", "import_command",
           "import_file"]
