//! Tabular detection for the encoder: when an array of objects can be written
//! as `key[N]{fields}:` rows (§9.3), including nested field groups
//! (`{id,customer{name,country}}`) for uniform object-valued columns, and when
//! an object of objects can be written as a keyed table `key[N:]{fields}:`.

use std::collections::HashSet;

use crate::value::{Map, Value};

/// One column of a table header: a leaf, or a group of sub-columns whose
/// cells are laid out depth-first in the row.
#[derive(Debug)]
pub(crate) struct Field<'v> {
    pub(crate) name: &'v str,
    pub(crate) children: Option<Vec<Field<'v>>>,
}

/// The field list under which every row of `rows` can be written, or `None`
/// when the rows are not uniform: every row needs the same non-empty key set,
/// and every column must be all primitives or all uniform non-empty objects.
/// `depth_left` stops runaway recursion on absurdly deep values.
pub(crate) fn tabular_fields<'v>(rows: &[&'v Map], depth_left: usize) -> Option<Vec<Field<'v>>> {
    let first = *rows.first()?;
    if first.is_empty() || depth_left == 0 {
        return None;
    }
    let width = first.len();
    let mut first_keys: Option<HashSet<&str>> = None;
    for row in &rows[1..] {
        if row.len() != width {
            return None;
        }
        if !same_key_order(first, row) {
            // Keys are unique within a map and the widths agree, so "every key
            // of this row is a key of the first row" means "same key set".
            let set = first_keys.get_or_insert_with(|| first.keys().map(String::as_str).collect());
            if !row.keys().all(|k| set.contains(k.as_str())) {
                return None;
            }
        }
    }
    let mut fields = Vec::with_capacity(width);
    let mut column: Vec<&'v Map> = Vec::new();
    for (idx, (name, first_value)) in first.entries().iter().enumerate() {
        if first_value.is_primitive() {
            let all_primitive = rows[1..]
                .iter()
                .all(|row| lookup(row, name, idx).is_some_and(Value::is_primitive));
            if !all_primitive {
                return None;
            }
            fields.push(Field {
                name,
                children: None,
            });
            continue;
        }
        column.clear();
        for row in rows {
            match lookup(row, name, idx) {
                Some(Value::Object(m)) if !m.is_empty() => column.push(m),
                _ => return None,
            }
        }
        let children = tabular_fields(&column, depth_left - 1)?;
        fields.push(Field {
            name,
            children: Some(children),
        });
    }
    Some(fields)
}

/// The field list for writing `obj` as a keyed table (`key[N:]{fields}:`):
/// at least two entries, each a non-empty object, uniform as for arrays.
pub(crate) fn keyed_fields(obj: &Map, depth_left: usize) -> Option<Vec<Field<'_>>> {
    if obj.len() < 2 {
        return None;
    }
    let mut rows = Vec::with_capacity(obj.len());
    for v in obj.values() {
        match v {
            Value::Object(m) if !m.is_empty() => rows.push(m),
            _ => return None,
        }
    }
    tabular_fields(&rows, depth_left)
}

/// The value of `key`, trying position `idx` first: rows of real tables almost
/// always list their keys in the same order as the first row.
#[inline]
pub(crate) fn lookup<'v>(row: &'v Map, key: &str, idx: usize) -> Option<&'v Value> {
    match row.entries().get(idx) {
        Some((k, v)) if k == key => Some(v),
        _ => row.get(key),
    }
}

fn same_key_order(a: &Map, b: &Map) -> bool {
    a.keys().zip(b.keys()).all(|(x, y)| x == y)
}
