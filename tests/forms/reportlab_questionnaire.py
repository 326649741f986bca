#!/usr/bin/env python3
"""A fillable questionnaire made by a third-party PDF generator (ReportLab's
AcroForm support), as another office's tool would make it: checkboxes with
names that say nothing, the date printed beside each box.

Used by tests/daemon/documents.rs, which runs it with the interview days of
the test programme. scripts/install-test-deps.sh installs ReportLab.

    reportlab_questionnaire.py OUT.pdf --layout box-left --names check-box \
        --tick 2,4 --kommune "Gemeinde Musterdorf" \
        "Mo., 29.06.2026, 9:00–13:00 Uhr" "Di., 30.06.2026, …" …

Layouts:
  box-left    ☐ label, one per line
  label-left  label ....... ☐, one per line (a table without rules)
  grid        label ☐   label ☐   label ☐ (three per line: the next box's
              label is nearer to a box's right than its own on its left)
  radio       one radio group "termin" with one option per line, ☐ label
Names: check-box ("Check Box 1"), termin ("termin_1"), kontrollkaestchen
("Kontrollkästchen1"). Boxes are added to the form bottom to top, so the
AcroForm lists them in another order than the page shows them. --tick takes
1-based positions on the page.
"""

import argparse

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

NAMES = {
    "check-box": "Check Box {}",
    "termin": "termin_{}",
    "kontrollkaestchen": "Kontrollkästchen{}",
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("labels", nargs="+")
    p.add_argument("--layout", choices=["box-left", "label-left", "grid", "radio"], default="box-left")
    p.add_argument("--names", choices=sorted(NAMES), default="check-box")
    p.add_argument("--tick", default="")
    p.add_argument("--kommune", default="Gemeinde Reportlab")
    a = p.parse_args()
    ticked = {int(t) for t in a.tick.split(",") if t}

    c = canvas.Canvas(a.out, pagesize=A4)
    c.setTitle("Fragebogen zur Bewerbung")
    c.setFont("Helvetica-Bold", 14)
    c.drawString(72, 760, "Fragebogen zur Bewerbung")
    c.setFont("Helvetica", 11)
    c.drawString(72, 730, f"Name der Kommune: {a.kommune}")
    c.drawString(72, 700, "Bitte kreuzen Sie die Termine für das Kennenlerngespräch an, die Ihnen passen:")

    places = []  # (x_box, y_box, x_label) per label, in page order
    widest = max(c.stringWidth(label, "Helvetica", 11) for label in a.labels)
    for n, _ in enumerate(a.labels):
        if a.layout == "grid":
            row, col = divmod(n, 3)
            y = 660 - 30 * row
            x_label = 40 + (widest + 40) * col
            places.append((x_label + widest + 6, y, x_label))
        elif a.layout == "label-left":
            y = 660 - 24 * n
            places.append((400, y, 72))
        else:
            y = 660 - 24 * n
            places.append((72, y, 92))
    for label, (_, y, x_label) in zip(a.labels, places):
        c.drawString(x_label, y + 2, label)

    form = c.acroForm
    for n in reversed(range(len(a.labels))):
        x, y, _ = places[n]
        if a.layout == "radio":
            # A radio group holds one choice: the first ticked position.
            form.radio(name="termin", value=str(n + 1), selected=(n + 1) == min(ticked, default=0),
                       x=x, y=y, size=12, buttonStyle="check", shape="square")
        else:
            form.checkbox(name=NAMES[a.names].format(n + 1), checked=(n + 1) in ticked,
                          x=x, y=y, size=12, buttonStyle="check")
    c.showPage()
    c.save()


if __name__ == "__main__":
    main()
