//! `yishi import-divisions`: load `code,name,level,parent_code` CSV (plain or
//! gzip) into the divisions table.
//!
//! The whole file is read and checked before anything is written, and it is
//! written in one transaction, so a bad row never leaves half a file behind.
//! Re-importing updates names, adds new rows and skips unchanged ones.

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;

use chrono::Utc;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

use super::Level;
use crate::db::Db;
use crate::entities::divisions;

/// Rows per INSERT: 5 parameters each stays well under SQLite's and
/// PostgreSQL's limits on bound parameters.
const BATCH: usize = 2_000;
/// Errors listed before the report stops counting them one by one.
const MAX_REPORTED_ERRORS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub code: String,
    pub name: String,
    pub level: Level,
    pub parent_code: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{} bad row(s); nothing was imported:\n{}", .errors.len(), .errors.join("\n"))]
    Invalid { errors: Vec<String> },
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Reads and validates a file, then imports it. `progress` is called with the
/// number of rows written so far.
///
/// # Errors
/// [`ImportError::Invalid`] listing bad rows by line number (nothing written),
/// or an I/O or database error (transaction rolled back).
pub async fn import_file(
    db: &Db,
    path: &Path,
    progress: impl Fn(u64, u64),
) -> Result<ImportReport, ImportError> {
    let io_err = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_err)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let gz = {
        use std::io::BufRead as _;
        reader
            .fill_buf()
            .map_err(io_err)?
            .starts_with(&[0x1f, 0x8b])
    };
    let input: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let (rows, errors) = parse_lenient(input);
    import_checked(db, rows, errors, progress).await
}

/// Parses CSV, checking each row on its own (columns, level, code shape).
///
/// # Errors
/// [`ImportError::Invalid`] with every bad line.
pub fn parse(input: impl Read) -> Result<Vec<Row>, ImportError> {
    let (rows, errors) = parse_lenient(input);
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(ImportError::Invalid { errors })
    }
}

/// The rows that parsed, and an error line for each that did not, so one
/// report lists every problem of the file.
fn parse_lenient(input: impl Read) -> (Vec<Row>, Vec<String>) {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut errors = Vec::new();
    let expected = ["code", "name", "level", "parent_code"];
    match csv.headers() {
        Ok(h) if h.iter().eq(expected) => {}
        Ok(h) => errors.push(format!(
            "line 1: header is {:?}, expected code,name,level,parent_code",
            h.iter().collect::<Vec<_>>().join(",")
        )),
        Err(e) => errors.push(format!("line 1: {e}")),
    }
    let mut rows = Vec::new();
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                push_error(&mut errors, line, &e.to_string());
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        match parse_row(&record, line) {
            Ok(row) => rows.push(row),
            Err(msg) => push_error(&mut errors, line, &msg),
        }
    }
    (rows, errors)
}

fn push_error(errors: &mut Vec<String>, line: u64, message: &str) {
    errors.push(format!("line {line}: {message}"));
}

fn parse_row(record: &csv::StringRecord, line: u64) -> Result<Row, String> {
    if record.len() != 4 {
        return Err(format!("expected 4 columns, found {}", record.len()));
    }
    let level = Level::parse(&record[2]).ok_or_else(|| {
        format!(
            "unknown level {:?} (expected province, city, county, township or village)",
            &record[2]
        )
    })?;
    let code = short_code(&record[0], level)
        .ok_or_else(|| format!("code {:?} is not a {} code", &record[0], level.as_str()))?;
    let name = record[1].to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name must have 1 to 100 characters".into());
    }
    let parent_code = match &record[3] {
        "" => None,
        raw => Some(
            super::normalize_code(raw, "parent_code")
                .map_err(|_| format!("parent_code {raw:?} is not a division code"))?,
        ),
    };
    Ok(Row {
        line,
        code,
        name,
        level,
        parent_code,
    })
}

/// The short code for `raw` at `level`: its significant digits, accepting the
/// 12-digit padded form too.
fn short_code(raw: &str, level: Level) -> Option<String> {
    let len = level.code_len();
    if !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if raw.len() == len {
        return Some(raw.to_owned());
    }
    (raw.len() == 12 && raw[len..].bytes().all(|b| b == b'0')).then(|| raw[..len].to_owned())
}

/// Checks the rows against each other and the database, then writes them in
/// one transaction, parents before children.
///
/// # Errors
/// As [`import_file`].
pub async fn import_rows(
    db: &Db,
    rows: Vec<Row>,
    progress: impl Fn(u64, u64),
) -> Result<ImportReport, ImportError> {
    import_checked(db, rows, Vec::new(), progress).await
}

async fn import_checked(
    db: &Db,
    mut rows: Vec<Row>,
    parse_errors: Vec<String>,
    progress: impl Fn(u64, u64),
) -> Result<ImportReport, ImportError> {
    let existing: HashMap<String, (String, String, Option<String>)> = divisions::Entity::find()
        .select_only()
        .columns([
            divisions::Column::Code,
            divisions::Column::Name,
            divisions::Column::Level,
            divisions::Column::ParentCode,
        ])
        .into_tuple::<(String, String, String, Option<String>)>()
        .all(db.reader())
        .await?
        .into_iter()
        .map(|(code, name, level, parent)| (code, (name, level, parent)))
        .collect();

    validate(&rows, &existing, parse_errors)?;

    let mut report = ImportReport {
        rows: rows.len() as u64,
        ..ImportReport::default()
    };
    rows.sort_by(|a, b| (a.code.len(), &a.code).cmp(&(b.code.len(), &b.code)));
    let changed: Vec<&Row> = rows
        .iter()
        .filter(|r| match existing.get(&r.code) {
            None => {
                report.inserted += 1;
                true
            }
            Some((name, level, parent))
                if name == &r.name && level == r.level.as_str() && parent == &r.parent_code =>
            {
                report.unchanged += 1;
                false
            }
            Some(_) => {
                report.updated += 1;
                true
            }
        })
        .collect();

    let total = changed.len() as u64;
    let now = Utc::now();
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut written = 0u64;
    progress(0, total);
    for chunk in changed.chunks(BATCH) {
        let mut insert = Query::insert();
        insert.into_table(divisions::Entity).columns([
            divisions::Column::Code,
            divisions::Column::Name,
            divisions::Column::Level,
            divisions::Column::ParentCode,
            divisions::Column::UpdatedAt,
        ]);
        for row in chunk {
            insert.values_panic([
                row.code.clone().into(),
                row.name.clone().into(),
                row.level.as_str().into(),
                row.parent_code.clone().into(),
                now.into(),
            ]);
        }
        insert.on_conflict(
            OnConflict::column(divisions::Column::Code)
                .update_columns([
                    divisions::Column::Name,
                    divisions::Column::Level,
                    divisions::Column::ParentCode,
                    divisions::Column::UpdatedAt,
                ])
                .to_owned(),
        );
        txn.execute(backend.build(&insert)).await?;
        written += chunk.len() as u64;
        progress(written, total);
    }
    txn.commit().await?;
    Ok(report)
}

fn validate(
    rows: &[Row],
    existing: &HashMap<String, (String, String, Option<String>)>,
    mut errors: Vec<String>,
) -> Result<(), ImportError> {
    let mut in_file: HashMap<&str, (u64, Level)> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Some((first_line, _)) = in_file.insert(&row.code, (row.line, row.level)) {
            push_error(
                &mut errors,
                row.line,
                &format!("duplicate code {} (first on line {first_line})", row.code),
            );
        }
    }
    for row in rows {
        let message = match (&row.parent_code, row.level) {
            (None, Level::Province) => None,
            (None, level) => Some(format!("a {} needs a parent_code", level.as_str())),
            (Some(_), Level::Province) => Some("a province has no parent_code".to_owned()),
            (Some(parent), level) => {
                let parent_level = in_file
                    .get(parent.as_str())
                    .map(|&(_, l)| l)
                    .or_else(|| existing.get(parent).and_then(|(_, l, _)| Level::parse(l)));
                match parent_level {
                    None => Some(format!(
                        "parent {parent} is neither in the file nor in the database"
                    )),
                    Some(pl) if pl >= level => Some(format!(
                        "parent {parent} is a {}, not above a {}",
                        pl.as_str(),
                        level.as_str()
                    )),
                    Some(_) if !row.code.starts_with(parent.as_str()) => Some(format!(
                        "code {} does not extend its parent's code {parent}",
                        row.code
                    )),
                    Some(_) => None,
                }
            }
        };
        if let Some(m) = message {
            push_error(&mut errors, row.line, &m);
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by_key(|e| {
        e.split_whitespace()
            .nth(1)
            .and_then(|n| n.trim_end_matches(':').parse::<u64>().ok())
            .unwrap_or(0)
    });
    if errors.len() > MAX_REPORTED_ERRORS {
        let more = errors.len() - MAX_REPORTED_ERRORS;
        errors.truncate(MAX_REPORTED_ERRORS);
        errors.push(format!("… and {more} more"));
    }
    Err(ImportError::Invalid { errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(csv: &str) -> Result<Vec<Row>, ImportError> {
        parse(csv.as_bytes())
    }

    fn errors(result: Result<impl std::fmt::Debug, ImportError>) -> Vec<String> {
        match result {
            Err(ImportError::Invalid { errors }) => errors,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn rows_parse_in_short_and_padded_form() {
        let r = rows("code,name,level,parent_code\n62,甘肃省,province,\n620100000000,兰州市,city,620000000000\n").unwrap();
        assert_eq!(r[1].code, "6201");
        assert_eq!(r[1].parent_code.as_deref(), Some("62"));
        assert_eq!(r[1].line, 3);
    }

    #[test]
    fn unknown_levels_and_bad_codes_are_reported_by_line() {
        let e = errors(rows(
            "code,name,level,parent_code\n62,甘肃省,state,\n620,x,city,62\n",
        ));
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("line 2: unknown level"), "{e:?}");
        assert!(
            e[1].starts_with("line 3: code \"620\" is not a city code"),
            "{e:?}"
        );
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let e = errors(rows("a,b,c,d\n62,甘肃省,province,\n"));
        assert!(e[0].starts_with("line 1: header"), "{e:?}");
    }

    #[test]
    fn tree_errors_are_found_across_rows() {
        let r = rows(
            "code,name,level,parent_code\n62,甘肃省,province,\n6201,兰州市,city,62\n6301,西宁市,city,62\n620102,城关区,county,6299\n6201,重复,city,62\n",
        )
        .unwrap();
        let e = errors(validate(&r, &HashMap::new(), Vec::new()));
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            e[0].contains("line 4") && e[0].contains("does not extend"),
            "{e:?}"
        );
        assert!(
            e[1].contains("line 5") && e[1].contains("neither in the file"),
            "{e:?}"
        );
        assert!(
            e[2].contains("line 6") && e[2].contains("duplicate code 6201"),
            "{e:?}"
        );
    }

    #[test]
    fn a_parent_already_in_the_database_is_accepted() {
        let r = rows("code,name,level,parent_code\n6201,兰州市,city,62\n").unwrap();
        let existing = HashMap::from([(
            "62".to_owned(),
            ("甘肃省".to_owned(), "province".to_owned(), None),
        )]);
        validate(&r, &existing, Vec::new()).unwrap();
    }
}
