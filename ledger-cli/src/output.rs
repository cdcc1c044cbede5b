//! The one renderer: tables and short lines for people, `--json` JSON Lines and `--csv` rows for
//! programs.
//!
//! Every JSON line is an object with a `type` member naming its shape (`key`, `appended`,
//! `trail-event`, ...); the shapes are the CLI's public `--json` API (see ARCHITECTURE.md).
//! Everything goes through [`Output`], which writes to stdout and returns IO errors (so that a
//! closed pipe ends the program quietly instead of panicking like `println!`).

use std::fmt::Display;
use std::io::{self, BufWriter, IsTerminal, Stdout, Write};

use comfy_table::{presets, CellAlignment, ColumnConstraint, ContentArrangement, Table};
use serde::Serialize;

/// How a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Tables and sentences for people.
    Table,
    /// JSON Lines with a `type` member.
    Json,
    /// CSV with a header line (for lists; other output falls back to JSON Lines).
    Csv,
}

/// A record printed as a row of a table or CSV, or as one JSON line.
pub(crate) trait Row: Serialize {
    /// The `type` member of its JSON line.
    const TYPE: &'static str;
    /// Column names, for the table header and the CSV header line.
    fn headers() -> &'static [&'static str];
    /// The cells, in the order of [`Row::headers`], as people read them.
    fn cells(&self) -> Vec<String>;
    /// Column names of the CSV header line: by default the same as [`Row::headers`].
    fn csv_headers() -> &'static [&'static str] {
        Self::headers()
    }
    /// The cells for CSV, in the order of [`Row::csv_headers`]: plain machine values (by
    /// default the same as [`Row::cells`]).
    fn csv_cells(&self) -> Vec<String> {
        self.cells()
    }
    /// Indices of columns aligned right (numbers and money).
    fn right_aligned() -> &'static [usize] {
        &[]
    }
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(flatten)]
    value: &'a T,
}

/// Where output goes.
pub(crate) struct Output {
    format: Format,
    out: BufWriter<Stdout>,
}

impl Output {
    /// Output to stdout in `format`.
    pub(crate) fn new(format: Format) -> Self {
        Self {
            format,
            out: BufWriter::new(io::stdout()),
        }
    }

    /// The format.
    pub(crate) fn format(&self) -> Format {
        self.format
    }

    /// True when people read the output (no `--json` nor `--csv`).
    pub(crate) fn is_human(&self) -> bool {
        self.format == Format::Table
    }

    /// A line for people; nothing with `--json` or `--csv`.
    ///
    /// # Errors
    /// Writing to stdout failed (a closed pipe, say).
    pub(crate) fn say(&mut self, text: impl Display) -> io::Result<()> {
        if self.is_human() {
            writeln!(self.out, "{text}")?;
        }
        Ok(())
    }

    /// One JSON line `{"type": kind, ...value}`, with `--json` or `--csv` only.
    ///
    /// # Errors
    /// Writing failed, or `value` does not serialize to a JSON object.
    pub(crate) fn json<T: Serialize>(&mut self, kind: &str, value: &T) -> io::Result<()> {
        if self.is_human() {
            return Ok(());
        }
        serde_json::to_writer(&mut self.out, &Tagged { kind, value }).map_err(io::Error::other)?;
        writeln!(self.out)
    }

    /// A result: `human` for people, or one JSON line for programs.
    ///
    /// # Errors
    /// As [`Output::say`] and [`Output::json`].
    pub(crate) fn record<T: Serialize>(
        &mut self,
        kind: &str,
        value: &T,
        human: impl Display,
    ) -> io::Result<()> {
        self.say(human)?;
        self.json(kind, value)
    }

    /// A list of rows: a table, CSV rows, or JSON lines.
    ///
    /// # Errors
    /// As [`Output::say`].
    pub(crate) fn rows<R: Row>(&mut self, rows: &[R]) -> io::Result<()> {
        let mut sink = self.sink::<R>()?;
        for row in rows {
            sink.push(self, row)?;
        }
        sink.finish(self)
    }

    /// A sink to push rows one at a time (CSV and JSON stream; tables print at the end).
    ///
    /// # Errors
    /// Writing the CSV header failed.
    pub(crate) fn sink<R: Row>(&mut self) -> io::Result<RowSink<R>> {
        if self.format == Format::Csv {
            write_csv_record(
                &mut self.out,
                R::csv_headers().iter().map(|h| h.to_string()),
            )?;
        }
        Ok(RowSink {
            buffered: Vec::new(),
            _marker: std::marker::PhantomData,
        })
    }

    /// Flushes what is buffered.
    ///
    /// # Errors
    /// Writing failed.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn write_table(&mut self, table: &Table) -> io::Result<()> {
        writeln!(self.out, "{table}")
    }
}

/// Rows pushed one at a time; see [`Output::sink`].
pub(crate) struct RowSink<R> {
    buffered: Vec<Vec<String>>,
    _marker: std::marker::PhantomData<R>,
}

impl<R: Row> RowSink<R> {
    /// Prints or buffers one row.
    ///
    /// # Errors
    /// Writing failed.
    pub(crate) fn push(&mut self, output: &mut Output, row: &R) -> io::Result<()> {
        match output.format {
            Format::Table => {
                self.buffered.push(row.cells());
                Ok(())
            }
            Format::Csv => write_csv_record(&mut output.out, row.csv_cells()),
            Format::Json => output.json(R::TYPE, row),
        }
    }

    /// Prints the table, if rows were buffered for one.
    ///
    /// # Errors
    /// Writing failed.
    pub(crate) fn finish(self, output: &mut Output) -> io::Result<()> {
        if output.format == Format::Table && !self.buffered.is_empty() {
            let table = table_of(R::headers(), R::right_aligned(), self.buffered);
            output.write_table(&table)?;
        }
        output.flush()
    }
}

/// A table for people.
pub(crate) fn table_of(headers: &[&str], right: &[usize], rows: Vec<Vec<String>>) -> Table {
    let ids = id_columns(headers.len(), &rows);
    let mut table = Table::new();
    // On a terminal, fit its width; in a pipe or a file, never wrap a line.
    let arrangement = if io::stdout().is_terminal() {
        ContentArrangement::Dynamic
    } else {
        ContentArrangement::Disabled
    };
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(arrangement)
        .set_header(headers.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    for index in right {
        if let Some(column) = table.column_mut(*index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    for index in ids {
        // An id is copied whole into the next command: never wrap it.
        if let Some(column) = table.column_mut(index) {
            column.set_constraint(ColumnConstraint::ContentWidth);
        }
    }
    table
}

/// The columns whose cells are all 64-hex ids (or empty).
fn id_columns(count: usize, rows: &[Vec<String>]) -> Vec<usize> {
    let is_id = |cell: &str| cell.len() == 64 && cell.bytes().all(|b| b.is_ascii_hexdigit());
    (0..count)
        .filter(|&i| {
            let cells = rows
                .iter()
                .filter_map(|row| row.get(i))
                .filter(|c| !c.is_empty());
            let mut cells = cells.peekable();
            cells.peek().is_some() && cells.all(|c| is_id(c))
        })
        .collect()
}

fn write_csv_record(
    out: &mut impl Write,
    cells: impl IntoIterator<Item = String>,
) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    writer.write_record(cells).map_err(csv_to_io)?;
    writer.flush()
}

fn csv_to_io(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Minor-unit digits of an ISO 4217 currency (2 unless listed).
fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Money for people: `GBP 1,234.56` from 123456 minor units.
pub(crate) fn money(minor_units: u64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let scale = 10u64.pow(digits);
    let whole = group_thousands(minor_units / scale);
    if digits == 0 {
        format!("{currency} {whole}")
    } else {
        let fraction = minor_units % scale;
        format!(
            "{currency} {whole}.{fraction:0width$}",
            width = digits as usize
        )
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let (head, mut rest) = digits.split_at(first.min(digits.len()));
    let mut out = head.to_owned();
    while rest.len() >= 3 {
        let (group, tail) = rest.split_at(3);
        out.push(',');
        out.push_str(group);
        rest = tail;
    }
    out
}

/// The first 12 hex digits of an id, enough for people to tell ids apart in a table.
pub(crate) fn short(id: impl Display) -> String {
    let text = id.to_string();
    text.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_uses_the_currency_minor_unit() {
        assert_eq!(money(123_456, "GBP"), "GBP 1,234.56");
        assert_eq!(money(5, "GBP"), "GBP 0.05");
        assert_eq!(money(1_500_000, "JPY"), "JPY 1,500,000");
        assert_eq!(money(1_234, "KWD"), "KWD 1.234");
        assert_eq!(money(0, "ARS"), "ARS 0.00");
    }

    #[test]
    fn thousands_are_grouped_from_the_right() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(
            group_thousands(9_007_199_254_740_991),
            "9,007,199,254,740,991"
        );
    }
}
