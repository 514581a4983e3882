//! Administrative divisions (national statistical codes) and the code
//! arithmetic everything else leans on.
//!
//! A code is kept as its significant digits: 2 (province), 4 (city),
//! 6 (county), 9 (township) or 12 (village). So `620102001` contains every
//! code that starts with it, and the township of village `620102001001` is
//! its first nine digits.

pub mod import;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::divisions;
use crate::error::{Error, Result};

pub use divisions::Model as Division;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Province,
    City,
    County,
    Township,
    Village,
}

impl Level {
    pub const ALL: [Self; 5] = [
        Self::Province,
        Self::City,
        Self::County,
        Self::Township,
        Self::Village,
    ];

    /// Digits of a code at this level.
    pub const fn code_len(self) -> usize {
        match self {
            Self::Province => 2,
            Self::City => 4,
            Self::County => 6,
            Self::Township => 9,
            Self::Village => 12,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Province => "province",
            Self::City => "city",
            Self::County => "county",
            Self::Township => "township",
            Self::Village => "village",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    pub fn from_code_len(len: usize) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code_len() == len)
    }
}

/// Accepts a code in short form (`620102001`) or as the 12-digit national code
/// padded with zeros (`620102001000`) and returns the short form.
///
/// # Errors
/// `BAD_USER_INPUT` on `field` when it is not a division code.
pub fn normalize_code(raw: &str, field: &'static str) -> Result<String> {
    let code = raw.trim();
    let bad = || {
        Error::bad_input(
            field,
            format!("{raw:?} is not a division code (2, 4, 6, 9 or 12 digits)"),
        )
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if code.len() == 12 {
        // Strip the zero padding level by level: village, township, county, city.
        for level in [Level::Township, Level::County, Level::City, Level::Province] {
            let next_len = next_deeper(level).code_len();
            if !code[level.code_len()..next_len].bytes().all(|b| b == b'0') {
                return Ok(code[..next_len].to_owned());
            }
        }
        return Ok(code[..2].to_owned());
    }
    Level::from_code_len(code.len())
        .map(|_| code.to_owned())
        .ok_or_else(bad)
}

const fn next_deeper(level: Level) -> Level {
    match level {
        Level::Province => Level::City,
        Level::City => Level::County,
        Level::County => Level::Township,
        Level::Township | Level::Village => Level::Village,
    }
}

/// The level a (short) code is at.
pub fn level_of(code: &str) -> Option<Level> {
    Level::from_code_len(code.len())
}

/// The 12-digit national form of a short code.
pub fn full_code(code: &str) -> String {
    format!("{code:0<12}")
}

/// Whether division `inner` lies within `outer` (or is it).
pub fn contains(outer: &str, inner: &str) -> bool {
    inner.starts_with(outer)
}

/// Rows whose `column` holds a code within division `code` (or it).
///
/// A range on the code rather than `LIKE 'code%'`: SQLite's `LIKE` ignores
/// case and PostgreSQL's needs the C collation, so neither would let an
/// index on the column serve the filter.
pub fn within<C: ColumnTrait>(column: C, code: &str) -> Condition {
    let from = Condition::all().add(column.gte(code));
    match first_code_after(code) {
        Some(until) => from.add(column.lt(until)),
        None => from,
    }
}

/// The least string above every string that starts with the digits
/// `prefix`: its last digit that is not a 9, plus one (`6201` → `6202`,
/// `6299` → `63`); `None` when there is none.
fn first_code_after(prefix: &str) -> Option<String> {
    let kept = prefix.trim_end_matches('9');
    let last = *kept.as_bytes().last()?;
    debug_assert!(last.is_ascii_digit(), "division codes are digits");
    let mut until = kept[..kept.len() - 1].to_owned();
    until.push(char::from(last + 1));
    Some(until)
}

/// Codes of the divisions above `code`, from the province down.
pub fn ancestor_codes(code: &str) -> Vec<String> {
    Level::ALL
        .iter()
        .map(|l| l.code_len())
        .filter(|&len| len < code.len())
        .map(|len| code[..len].to_owned())
        .collect()
}

/// One division by code.
///
/// # Errors
/// `NOT_FOUND` when there is none, `BAD_USER_INPUT` for a malformed code.
pub async fn get(db: &impl ConnectionTrait, code: &str) -> Result<Division> {
    let code = normalize_code(code, "code")?;
    find(db, &code)
        .await?
        .ok_or_else(|| Error::not_found(format!("division {code}")))
}

/// One division by its short code, if it exists.
///
/// # Errors
/// Database errors only.
pub async fn find(db: &impl ConnectionTrait, code: &str) -> Result<Option<Division>> {
    Ok(divisions::Entity::find_by_id(code.to_owned())
        .one(db)
        .await?)
}

/// The chain of divisions above `code`, province first.
///
/// # Errors
/// Database errors only.
pub async fn ancestors(db: &impl ConnectionTrait, code: &str) -> Result<Vec<Division>> {
    let codes = ancestor_codes(code);
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = divisions::Entity::find()
        .filter(divisions::Column::Code.is_in(codes))
        .all(db)
        .await?;
    found.sort_by_key(|d| d.code.len());
    Ok(found)
}

#[derive(Debug, Default, Clone)]
pub struct DivisionFilter {
    pub parent_code: Option<String>,
    pub level: Option<Level>,
    pub name_contains: Option<String>,
}

pub const MAX_PAGE: u64 = 500;

/// Divisions matching `filter`, ordered by code, `first` of them after the
/// code `after`. Returns one extra row when there are more, so the caller can
/// tell `hasNextPage` without counting.
///
/// # Errors
/// `BAD_USER_INPUT` for a page size out of range or malformed codes.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &DivisionFilter,
    first: u64,
    after: Option<&str>,
) -> Result<Vec<Division>> {
    if first == 0 || first > MAX_PAGE {
        return Err(Error::bad_input(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut cond = Condition::all();
    if let Some(parent) = &filter.parent_code {
        cond = cond.add(divisions::Column::ParentCode.eq(normalize_code(parent, "parentCode")?));
    } else if filter.name_contains.is_none() && filter.level.is_none() {
        // No filter at all: the top of the tree.
        cond = cond.add(divisions::Column::ParentCode.is_null());
    }
    if let Some(level) = filter.level {
        cond = cond.add(divisions::Column::Level.eq(level.as_str()));
    }
    if let Some(name) = filter
        .name_contains
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if name.chars().count() > 50 {
            return Err(Error::bad_input("nameContains", "at most 50 characters"));
        }
        cond = cond.add(divisions::Column::Name.contains(name));
    }
    if let Some(after) = after {
        cond = cond.add(divisions::Column::Code.gt(after));
    }
    Ok(divisions::Entity::find()
        .filter(cond)
        .order_by_asc(divisions::Column::Code)
        .limit(first + 1)
        .all(db)
        .await?)
}

/// The divisions with these codes (those that exist), for batched lookups.
///
/// # Errors
/// Database errors only.
pub async fn find_many(db: &impl ConnectionTrait, codes: &[String]) -> Result<Vec<Division>> {
    let mut found = Vec::with_capacity(codes.len());
    // Bounded statements: each code is one bound parameter.
    for chunk in codes.chunks(1_000) {
        found.extend(
            divisions::Entity::find()
                .filter(divisions::Column::Code.is_in(chunk.iter().cloned()))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_padded_codes_normalize_to_the_same_form() {
        assert_eq!(normalize_code("62", "c").unwrap(), "62");
        assert_eq!(normalize_code("620000000000", "c").unwrap(), "62");
        assert_eq!(normalize_code("620100000000", "c").unwrap(), "6201");
        assert_eq!(normalize_code("620102000000", "c").unwrap(), "620102");
        assert_eq!(normalize_code("620102001000", "c").unwrap(), "620102001");
        assert_eq!(normalize_code("620102001001", "c").unwrap(), "620102001001");
    }

    #[test]
    fn malformed_codes_are_bad_input() {
        for bad in ["", "6", "62a", "12345", "1234567"] {
            assert!(
                matches!(
                    normalize_code(bad, "code"),
                    Err(Error::BadInput {
                        field: Some("code"),
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn ancestors_and_containment_follow_the_prefix() {
        assert_eq!(
            ancestor_codes("620102001001"),
            ["62", "6201", "620102", "620102001"]
        );
        assert!(ancestor_codes("62").is_empty());
        assert!(contains("6201", "620102001001"));
        assert!(!contains("6202", "620102001001"));
        assert_eq!(full_code("6201"), "620100000000");
    }

    #[test]
    fn the_code_after_a_prefix_carries_over_nines() {
        assert_eq!(first_code_after("6201").as_deref(), Some("6202"));
        assert_eq!(first_code_after("620109").as_deref(), Some("62011"));
        assert_eq!(first_code_after("6299").as_deref(), Some("63"));
        assert_eq!(first_code_after("99"), None);
    }

    proptest::proptest! {
        /// The range `within` builds holds exactly the codes starting with
        /// the prefix, as strings compare byte by byte in the database.
        #[test]
        fn the_range_holds_exactly_the_codes_with_the_prefix(
            prefix in "[0-9]{1,12}",
            code in "[0-9]{12}",
            shared in 0usize..=12,
        ) {
            // Half the cases share part of the prefix, or none would match.
            let shared = shared.min(prefix.len());
            let code = format!("{}{}", &prefix[..shared], &code[shared..]);
            let in_range = code.as_str() >= prefix.as_str()
                && first_code_after(&prefix).is_none_or(|until| code < until);
            proptest::prop_assert_eq!(in_range, code.starts_with(&prefix));
        }
    }
}
