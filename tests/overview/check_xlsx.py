#!/usr/bin/env python3
"""Opens an overview spreadsheet with openpyxl (an independent reader, not
ours) and prints what the tests assert on, as JSON: the sheet names, the
frozen pane, the filter range, the headers, and every row's cells with their
Python type (datetime, float/int, bool, str) and number format.

Usage: check_xlsx.py FILE.xlsx
"""
import datetime
import json
import sys

import openpyxl


def cell(c):
    v = c.value
    if isinstance(v, datetime.datetime):
        shown = v.isoformat()
    else:
        shown = v
    return {"type": type(v).__name__, "value": shown, "format": c.number_format}


def main():
    wb = openpyxl.load_workbook(sys.argv[1])
    ws = wb["Bewerbungen"]
    rows = list(ws.iter_rows())
    out = {
        "sheets": wb.sheetnames,
        "freeze": ws.freeze_panes,
        "filter": ws.auto_filter.ref,
        "headers": [c.value for c in rows[0]] if rows else [],
        "rows": [[cell(c) for c in r] for r in rows[1:]],
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
