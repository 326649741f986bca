//! The overview as an XLSX workbook: one sheet "Bewerbungen", one row per
//! application, German headers, a frozen header row and filters. Dates are
//! date-time cells (Berlin time, `TT.MM.JJJJ hh:mm`), hours and persons
//! numbers, yes/no real booleans.

use super::{Hours, Overview, Row, days_text, interview_state_de, outcome_de};
use crate::calendar::german;
use anyhow::Context;
use chrono::{DateTime, Datelike, Timelike, Utc};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};

/// The sheet's name.
pub const SHEET: &str = "Bewerbungen";

/// The number format of date-time cells.
const DATETIME_FORMAT: &str = "dd.mm.yyyy hh:mm";

/// Excel's limit for the text of one cell.
const MAX_CELL_CHARS: usize = 32_000;

/// A column: its German header and width.
struct Column {
    header: &'static str,
    width: f64,
}

const COLUMNS: &[Column] = &[
    Column {
        header: "Aktenzeichen",
        width: 13.0,
    },
    Column {
        header: "Programm",
        width: 9.0,
    },
    Column {
        header: "Kommune",
        width: 28.0,
    },
    Column {
        header: "Art",
        width: 10.0,
    },
    Column {
        header: "Absender",
        width: 24.0,
    },
    Column {
        header: "Absender E-Mail",
        width: 30.0,
    },
    Column {
        header: "Ansprechperson",
        width: 24.0,
    },
    Column {
        header: "Ansprechperson E-Mail",
        width: 30.0,
    },
    Column {
        header: "Zweite Person",
        width: 24.0,
    },
    Column {
        header: "Vorgesetzte Person",
        width: 24.0,
    },
    Column {
        header: "Vorgesetzte E-Mail",
        width: 30.0,
    },
    Column {
        header: "Wochenstunden",
        width: 14.0,
    },
    Column {
        header: "Eingang",
        width: 17.0,
    },
    Column {
        header: "Vollständig",
        width: 12.0,
    },
    Column {
        header: "Verspätet",
        width: 10.0,
    },
    Column {
        header: "Gesprächstermine angekreuzt",
        width: 40.0,
    },
    Column {
        header: "Gespräch",
        width: 17.0,
    },
    Column {
        header: "Gespräch Stand",
        width: 14.0,
    },
    Column {
        header: "Entscheidung",
        width: 13.0,
    },
    Column {
        header: "Personen",
        width: 9.0,
    },
    Column {
        header: "Bescheid",
        width: 14.0,
    },
    Column {
        header: "Unterlagen",
        width: 50.0,
    },
    Column {
        header: "Hinweis",
        width: 30.0,
    },
];

/// The German column headers, in order.
pub fn headers() -> Vec<&'static str> {
    COLUMNS.iter().map(|c| c.header).collect()
}

/// The workbook as bytes.
pub fn xlsx(overview: &Overview) -> anyhow::Result<Vec<u8>> {
    build(overview).context("cannot write the overview spreadsheet")
}

fn build(overview: &Overview) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(SHEET)?;
    let bold = Format::new().set_bold().set_align(FormatAlign::Top);
    let datetime = Format::new().set_num_format(DATETIME_FORMAT);
    let wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    for (col, c) in (0u16..).zip(COLUMNS) {
        sheet.write_string_with_format(0, col, c.header, &bold)?;
        sheet.set_column_width(col, c.width)?;
    }
    for (row, r) in (1u32..).zip(&overview.rows) {
        write_row(sheet, row, r, &datetime, &wrap)?;
    }
    let last_row = u32::try_from(overview.rows.len()).unwrap_or(u32::MAX - 1);
    let last_col = u16::try_from(COLUMNS.len().saturating_sub(1)).unwrap_or(0);
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofilter(0, 0, last_row.max(1), last_col)?;
    workbook.save_to_buffer()
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    r: &Row,
    datetime: &Format,
    wrap: &Format,
) -> Result<(), XlsxError> {
    let mut col = 0u16;
    let mut next = || {
        col += 1;
        col - 1
    };
    let text = |sheet: &mut Worksheet, col: u16, s: Option<&str>| -> Result<(), XlsxError> {
        if let Some(s) = s.filter(|s| !s.is_empty()) {
            sheet.write_string(row, col, cell_text(s))?;
        }
        Ok(())
    };
    let when = |sheet: &mut Worksheet, col: u16, t: Option<DateTime<Utc>>| match t
        .map(|t| excel_datetime(&t))
        .transpose()?
    {
        Some(t) => sheet
            .write_datetime_with_format(row, col, t, datetime)
            .map(|_| ()),
        None => Ok(()),
    };
    text(sheet, next(), Some(&r.reference))?;
    text(sheet, next(), Some(&r.programme))?;
    text(sheet, next(), r.municipality.as_deref())?;
    text(sheet, next(), r.kind.as_deref())?;
    text(sheet, next(), r.applicant_name.as_deref())?;
    text(sheet, next(), Some(&r.applicant))?;
    text(sheet, next(), r.contact_name.as_deref())?;
    text(sheet, next(), r.contact_email.as_deref())?;
    text(sheet, next(), r.second_person.as_deref())?;
    text(sheet, next(), r.supervisor_name.as_deref())?;
    text(sheet, next(), r.supervisor_email.as_deref())?;
    let c = next();
    match &r.hours {
        Some(Hours::Number(h)) => {
            sheet.write_number(row, c, *h)?;
        }
        Some(Hours::Text(t)) => text(sheet, c, Some(t))?,
        None => {}
    }
    when(sheet, next(), r.received)?;
    sheet.write_boolean(row, next(), r.complete)?;
    sheet.write_boolean(row, next(), r.late)?;
    let c = next();
    if !r.interview_days.is_empty() {
        sheet.write_string_with_format(row, c, cell_text(&days_text(&r.interview_days)), wrap)?;
    }
    when(sheet, next(), r.interview.map(|(t, _)| t))?;
    text(
        sheet,
        next(),
        r.interview.map(|(_, s)| interview_state_de(s)),
    )?;
    text(sheet, next(), r.decision.map(|(o, _, _)| outcome_de(o)))?;
    let c = next();
    if let Some((_, persons, _)) = r.decision {
        sheet.write_number(row, c, persons as f64)?;
    }
    text(
        sheet,
        next(),
        r.decision.map(|(_, _, n)| match n {
            crate::store::decisions::NoticeState::Held => "zurückgehalten",
            crate::store::decisions::NoticeState::Released => "versandt",
        }),
    )?;
    let c = next();
    if !r.documents.is_empty() {
        sheet.write_string_with_format(row, c, cell_text(&r.documents.join("\n")), wrap)?;
    }
    let note = r
        .duplicate_of
        .as_ref()
        .map(|d| format!("mögliches Duplikat von {d}"));
    text(sheet, next(), note.as_deref())?;
    Ok(())
}

/// A cell's text, within Excel's limit.
fn cell_text(s: &str) -> String {
    s.chars().take(MAX_CELL_CHARS).collect()
}

/// The time in Berlin as an Excel date-time (Excel knows no time zones).
fn excel_datetime(t: &DateTime<Utc>) -> Result<ExcelDateTime, XlsxError> {
    let local = german::to_berlin(t);
    let year =
        u16::try_from(local.year()).map_err(|_| XlsxError::DateTimeRangeError("year".into()))?;
    ExcelDateTime::from_ymd(year, local.month() as u8, local.day() as u8)?.and_hms(
        local.hour() as u16,
        local.minute() as u8,
        local.second(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::*;
    use std::io::Read;

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an XLSX is a ZIP");
        let mut s = String::new();
        zip.by_name(name)
            .expect("part")
            .read_to_string(&mut s)
            .expect("utf-8");
        s
    }

    #[test]
    fn frozen_header_filter_and_typed_cells() {
        let mut r = row("EWS7-0001", "EWS7");
        r.reference = "=HYPERLINK(\"x\")".into();
        let o = Overview {
            programme: None,
            rows: vec![r, row("EWS7-0002", "EWS7")],
            participants: vec![],
            at: Utc::now(),
        };
        let bytes = xlsx(&o).expect("written");
        let sheet = part(&bytes, "xl/worksheets/sheet1.xml");
        assert!(sheet.contains("ySplit=\"1\""), "{sheet}");
        assert!(sheet.contains("<autoFilter ref=\"A1:W3\""), "{sheet}");
        // a text that looks like a formula stays text
        assert!(!sheet.contains("<f>"), "{sheet}");
        // hours as a number, booleans typed
        assert!(sheet.contains("<v>19.5</v>"), "{sheet}");
        assert!(sheet.contains("t=\"b\""), "{sheet}");
        let styles = part(&bytes, "xl/styles.xml");
        assert!(styles.contains("dd.mm.yyyy hh:mm"), "{styles}");
        let strings = part(&bytes, "xl/sharedStrings.xml");
        for h in headers() {
            assert!(strings.contains(&h.replace('&', "&amp;")), "{h}");
        }
        assert_eq!(headers().len(), COLUMNS.len());
        // no rows: still a header and a filter
        let empty = Overview {
            programme: None,
            rows: vec![],
            participants: vec![],
            at: Utc::now(),
        };
        let sheet = part(&xlsx(&empty).expect("written"), "xl/worksheets/sheet1.xml");
        assert!(sheet.contains("<autoFilter"), "{sheet}");
    }
}
