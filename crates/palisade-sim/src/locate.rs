//! Where a field of a scenario file is written: its line and column, found
//! from the field's path (`models[1].quota.tpm`) in the TOML text, so a
//! value refused after parsing is reported at the place a person edits.

use serde::Serialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A place in a text file (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// Where the text came from (a path, or a name such as `built-in`).
    pub origin: String,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, line {}, column {}",
            self.origin, self.line, self.column
        )
    }
}

/// One step of a field path: a key or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(path: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(close) = rest.find(']') {
            if let Ok(i) = rest[1..close].parse() {
                out.push(Step::Index(i));
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

/// The location of `path` in `text`: the value of the deepest part of the
/// path that is written there (a default value is reported at the table that
/// would hold it). `None` when the text does not parse or names nothing of it.
pub(crate) fn locate(text: &str, origin: &str, path: &str) -> Option<Location> {
    let root = DeTable::parse(text).ok()?;
    let mut span = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for step in steps(path) {
        let next = match (step, table, value.map(Spanned::get_ref)) {
            (Step::Key(k), Some(t), _) => t
                .iter()
                .find(|(key, _)| key.get_ref().as_ref() == k)
                .map(|(_, v)| v),
            (Step::Index(i), _, Some(DeValue::Array(items))) => items.get(i),
            _ => None,
        };
        let Some(next) = next else { break };
        span = Some(next.span());
        table = match next.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
        value = Some(next);
    }
    let offset = span?.start.min(text.len());
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some(Location {
        origin: origin.to_owned(),
        line,
        column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str =
        "clients = 3\n[[models]]\nid = \"a\"\n[[models]]\nid = \"b\"\n[models.quota]\ntpm = 0\n";

    #[test]
    fn finds_keys_in_arrays_of_tables() {
        let at = locate(TEXT, "f.toml", "models[1].quota.tpm").unwrap();
        assert_eq!((at.line, at.column), (7, 7));
        assert_eq!(at.to_string(), "f.toml, line 7, column 7");
        let at = locate(TEXT, "f.toml", "clients").unwrap();
        assert_eq!((at.line, at.column), (1, 11));
    }

    #[test]
    fn a_default_value_points_at_its_table() {
        // `rpm` is not written: the nearest written part is `models[1].quota`,
        // whose header is on line 6.
        let at = locate(TEXT, "f", "models[1].quota.rpm").unwrap();
        assert_eq!(at.line, 6);
        assert!(locate(TEXT, "f", "duration").is_none());
        assert!(locate("not toml [", "f", "clients").is_none());
    }
}
