//! Checks that a crate's modules form a hierarchy, for the crates' own
//! `tests/module_graph.rs`: following the paths one module's code names in
//! another (`use crate::…`, `crate::…::X`, `super::…`, a child module by
//! name) never leads back to where it started.
//!
//! A light reader, not a parser: comments and string literals are blanked,
//! `#[cfg(test)]` modules are cut, and what is left is scanned for paths. A
//! `pub use` that only re-exports (the name is not used elsewhere in the
//! file's code) is the module's public face, not a dependency of its code:
//! that is how `lib.rs` and a tower-shaped `layer/mod.rs` (whose `layer.rs`
//! wraps the service defined in `mod.rs`) stay out of the graph.
//!
//! ```
//! use palisade_testkit::module_graph::{find_cycle, graph, read_modules, show};
//!
//! // A crate whose `a` and `b` name each other.
//! let src = std::env::temp_dir().join(format!("module-graph-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&src)?;
//! std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n")?;
//! std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A(B);\n")?;
//! std::fs::write(src.join("b.rs"), "use crate::a::A;\npub struct B;\n")?;
//! let cycle = find_cycle(&graph(&read_modules(&src)?)).expect("a and b name each other");
//! assert_eq!(show(&cycle), "a -> b -> a");
//!
//! // `b` no longer names `a`: a hierarchy.
//! std::fs::write(src.join("b.rs"), "pub struct B;\n")?;
//! assert!(find_cycle(&graph(&read_modules(&src)?)).is_none());
//! std::fs::remove_dir_all(&src)?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path inside a crate: `""` is the crate root, `"layer::stream"`
/// is `src/layer/stream.rs`.
pub type Module = String;

/// Source text of every module of `src/`, by module path (`""` is the crate
/// root, `"layer::stream"` is `src/layer/stream.rs`).
///
/// # Errors
///
/// Any I/O error reading the directory tree or a file.
pub fn read_modules(src: &Path) -> std::io::Result<BTreeMap<Module, String>> {
    let mut modules = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            // Every path under `src` starts with it; nothing else is read.
            let Ok(rel) = path.strip_prefix(src) else {
                continue;
            };
            let rel = rel.with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            modules.insert(parts.join("::"), std::fs::read_to_string(&path)?);
        }
    }
    Ok(modules)
}

/// `text` with comments and string and char literals blanked (lengths kept).
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A one-character literal such as '"' or '{' (lifetimes have no
            // closing quote two bytes on).
            i += 3;
            out.push_str("' '");
        } else {
            // `i` is on a char boundary, so a char starts here.
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `code` without `#[cfg(test)]` items (a `mod tests { … }` block).
fn without_tests(code: &str) -> String {
    let mut out = code.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let rest = &out[at..];
        let end = match (rest.find('{'), rest.find(';')) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => {
                let mut depth = 0;
                let mut end = rest.len();
                for (i, c) in rest[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (_, Some(semi)) => semi + 1,
            _ => rest.len(),
        };
        out.replace_range(at..at + end, "");
    }
    out
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Where a path sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In the code (an expression, a type, a private `use`).
    Code,
    /// In a `use` statement.
    Use,
    /// In a `pub use` or `pub(crate) use` (a re-export).
    ReExport,
}

/// Every path and bare name in `code`: `use a::b::{c, d::e}` gives `a::b::c`
/// and `a::b::d::e`, each with where it sits.
fn paths(code: &str) -> Vec<(Vec<String>, Place)> {
    let b = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = is_ident_byte(b[i])
            && (i == 0 || !(is_ident_byte(b[i - 1]) || b[i - 1] == b':'))
            && !b[i].is_ascii_digit();
        if !starts {
            i += 1;
            continue;
        }
        let statement_start = code[..i].rfind([';', '{', '}']).map_or(0, |s| s + 1);
        let mut words = code[statement_start..i].split_whitespace().rev();
        let place = match (words.next(), words.next()) {
            (Some("use"), Some(vis)) if vis.starts_with("pub") => Place::ReExport,
            (Some("use"), _) => Place::Use,
            _ => Place::Code,
        };
        let (tree, end) = path_tree(code, i);
        i = end.max(i + 1);
        found.extend(tree.into_iter().map(|p| (p, place)));
    }
    found
}

/// Reads a path (with `{…}` groups) starting at `i`; returns its leaves and
/// where it ended.
fn path_tree(code: &str, mut i: usize) -> (Vec<Vec<String>>, usize) {
    let b = code.as_bytes();
    let mut prefix = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            let mut leaves = Vec::new();
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return (
                        leaves
                            .into_iter()
                            .map(|l: Vec<String>| [prefix.clone(), l].concat())
                            .collect(),
                        i + 1,
                    );
                }
                let (inner, end) = path_tree(code, i);
                leaves.extend(inner);
                // Skip an `as alias`.
                i = end;
                while i < b.len() && b[i] != b',' && b[i] != b'}' {
                    i += 1;
                }
            }
        }
        let start = i;
        while i < b.len() && (is_ident_byte(b[i]) || b[i] == b'*') {
            i += 1;
        }
        if start == i {
            return (vec![prefix], i);
        }
        prefix.push(code[start..i].to_owned());
        if code[i..].starts_with("::") {
            i += 2;
        } else {
            return (vec![prefix], i);
        }
    }
}

/// Module dependencies: who names whom.
pub fn graph(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let code: BTreeMap<&str, String> = modules
        .iter()
        .map(|(m, text)| (m.as_str(), without_tests(&code_only(text))))
        .collect();
    let split = |m: &str| -> Vec<String> {
        if m.is_empty() {
            Vec::new()
        } else {
            m.split("::").map(str::to_owned).collect()
        }
    };
    let is_module = |parts: &[String]| modules.contains_key(&parts.join("::"));
    // What each module re-exports: (module, name) → where it comes from.
    let mut exports: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (m, c) in &code {
        for (path, place) in paths(c) {
            if place == Place::ReExport
                && path.len() > 1
                && let Some(target) = resolve(&split(m), &path, &is_module)
            {
                exports.insert((m.to_string(), path[path.len() - 1].clone()), target);
            }
        }
    }
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, c) in &code {
        let here = split(m);
        let deps = edges.entry(m.to_string()).or_default();
        for (path, place) in paths(c) {
            if path.len() < 2 {
                continue;
            }
            let Some(mut target) = resolve(&here, &path, &is_module) else {
                continue;
            };
            let name = &path[path.len() - 1];
            if place == Place::ReExport && !uses_name_elsewhere(c, name) {
                continue;
            }
            // `crate::Limiter` means the module the root re-exports it from.
            if let Some(origin) = exports.get(&(target.join("::"), name.clone())) {
                target = origin.clone();
            }
            let target = target.join("::");
            if target != *m {
                deps.insert(target);
            }
        }
    }
    edges
}

/// The module a path points into, if it is a path into this crate.
fn resolve(
    here: &[String],
    path: &[String],
    is_module: &dyn Fn(&[String]) -> bool,
) -> Option<Vec<String>> {
    let mut base: Vec<String> = match path[0].as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        child => {
            let mut p = here.to_vec();
            p.push(child.to_owned());
            if !is_module(&p) {
                return None;
            }
            here.to_vec()
        }
    };
    let mut rest = match path[0].as_str() {
        "crate" | "self" | "super" => &path[1..],
        _ => path,
    };
    while let Some(("super", tail)) = rest.split_first().map(|(h, t)| (h.as_str(), t)) {
        base.pop();
        rest = tail;
    }
    for segment in rest {
        let mut next = base.clone();
        next.push(segment.clone());
        if is_module(&next) {
            base = next;
        } else {
            break;
        }
    }
    Some(base)
}

/// Whether `name` appears in `code` outside `use` statements.
fn uses_name_elsewhere(code: &str, name: &str) -> bool {
    paths(code)
        .iter()
        .any(|(p, place)| *place == Place::Code && p.first().is_some_and(|first| first == name))
}

/// A cycle in `edges`, as the modules along it, if there is one.
pub fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        match marks.get(m) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|s| s == m).unwrap_or(0);
                let mut cycle = stack[from..].to_vec();
                cycle.push(m.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(m.clone(), Mark::Open);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(m.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for m in edges.keys() {
        if let Some(cycle) = visit(m, edges, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

/// A cycle as `a -> b -> a`, the crate root shown as `lib`.
pub fn show(cycle: &[Module]) -> String {
    cycle
        .iter()
        .map(|m| if m.is_empty() { "lib" } else { m.as_str() })
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_finds_cycles_through_imports_paths_and_super() {
        let sources = |pairs: &[(&str, &str)]| -> BTreeMap<Module, String> {
            pairs
                .iter()
                .map(|(m, t)| (m.to_string(), t.to_string()))
                .collect()
        };
        let through_use = sources(&[
            ("", "mod a;\nmod b;\npub use a::A;\n"),
            ("a", "use crate::{b::B, c};\npub struct A(B);\n"),
            ("b", "// crate::a is only a comment here\npub struct B;\n"),
        ]);
        assert_eq!(find_cycle(&graph(&through_use)), None);
        let with_path = sources(&[
            ("", "mod a;\nmod b;\n"),
            ("a", "use crate::{b::B};\npub struct A(B);\n"),
            ("b", "pub struct B;\nfn f() -> crate::a::A { todo!() }\n"),
        ]);
        assert_eq!(
            find_cycle(&graph(&with_path)).map(|c| show(&c)),
            Some("a -> b -> a".to_owned())
        );
        let child_and_super = sources(&[
            ("", "mod layer;\n"),
            (
                "layer",
                "mod stream;\npub use stream::S;\nfn f() { S::new(); }\npub(crate) fn g() {}\n",
            ),
            ("layer::stream", "pub struct S;\nfn h() { super::g() }\n"),
        ]);
        assert_eq!(
            find_cycle(&graph(&child_and_super)).map(|c| show(&c)),
            Some("layer -> layer::stream -> layer".to_owned())
        );
        let only_re_exported = sources(&[
            ("", "mod layer;\n"),
            ("layer", "mod layer;\npub use layer::L;\npub struct S;\n"),
            ("layer::layer", "use super::S;\npub struct L(S);\n"),
        ]);
        assert_eq!(find_cycle(&graph(&only_re_exported)), None);
        let test_modules_are_cut = sources(&[
            ("", "mod a;\nmod b;\n"),
            ("a", "use crate::b::B;\n"),
            (
                "b",
                "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::*;\n}\n",
            ),
        ]);
        assert_eq!(find_cycle(&graph(&test_modules_are_cut)), None);
    }
}
