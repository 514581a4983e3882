//! CSV for spreadsheet programs, the one way every download writes it:
//! UTF-8 with a BOM (so programs used in China open it as UTF-8), quoted
//! where needed, and no cell a spreadsheet would run as a formula.
//!
//! Residents write the reasons and names that end up in these files, and an
//! organiser opens them in Excel or WPS. A cell starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return may be taken for a formula there (CSV
//! injection), so, as OWASP recommends, such a cell gets a leading `'`: the
//! spreadsheet shows it as text and the reader still sees what was written.

use std::borrow::Cow;
use std::io::Write;

/// The UTF-8 byte order mark every file starts with.
pub const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// `value` as it is written to a cell: with a leading `'` when it starts
/// like a formula, as it is otherwise.
#[must_use]
pub fn cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// A CSV writer whose every cell goes through [`cell`].
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
}

impl Writer<Vec<u8>> {
    /// A file in memory that starts with the BOM.
    #[must_use]
    pub fn with_bom() -> Self {
        Self::new(BOM.to_vec())
    }

    /// Rows in memory with no BOM: a part of a file written in pieces.
    #[must_use]
    pub fn part() -> Self {
        Self::new(Vec::new())
    }
}

impl<W: Write> Writer<W> {
    /// Rows may have different lengths (a report has several sections).
    pub fn new(out: W) -> Self {
        Self {
            inner: csv::WriterBuilder::new().flexible(true).from_writer(out),
        }
    }

    /// Writes one row.
    ///
    /// # Errors
    /// When the underlying writer fails.
    pub fn row<I, T>(&mut self, cells: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        // Field by field: no row of owned copies per export line.
        for c in cells {
            self.inner.write_field(cell(c.as_ref()).as_bytes())?;
        }
        self.inner.write_record(None::<&[u8]>)
    }

    /// The output, everything written.
    ///
    /// # Errors
    /// When the last bytes cannot be written.
    pub fn finish(self) -> anyhow::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| anyhow::anyhow!(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn cells_that_start_like_formulas_are_neutralised_and_read_back_as_written() {
        let hostile = [
            "=HYPERLINK(\"http://evil.example\",\"点我\")",
            "+1+1",
            "-2+3",
            "@SUM(A1:A2)",
            "\t=1",
            "\r=1",
            "=cmd|' /C calc'!A0",
        ];
        let mut out = Writer::part();
        out.row(hostile).unwrap();
        out.row(["补偿太低, \"说法\" 不清", "a=b", "1-2", "", "'quoted"])
            .unwrap();
        let rows = read_back(&out.finish().unwrap());
        for (written, original) in rows[0].iter().zip(hostile) {
            assert_eq!(written, &format!("'{original}"));
        }
        // Anything else is written as it is, quotes and commas kept.
        assert_eq!(
            rows[1],
            ["补偿太低, \"说法\" 不清", "a=b", "1-2", "", "'quoted"]
        );
    }

    #[test]
    fn a_file_starts_with_the_bom() {
        let mut out = Writer::with_bom();
        out.row(["id"]).unwrap();
        assert_eq!(out.finish().unwrap(), b"\xEF\xBB\xBFid\n");
    }
}
