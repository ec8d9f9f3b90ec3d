//! End-to-end tests of `palisade toon …`, running the built binary: stdout
//! byte-exactness, exit codes 0 / 1 / 2, and one-line `line:column` errors.

use std::io::Write;
use std::process::{Command, Output, Stdio};

mod support;
use support::TempFile;

fn palisade(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_palisade"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn palisade");
    // A command that fails on its arguments may exit before reading stdin;
    // the broken pipe that follows is not the test's concern.
    if let Some(mut pipe) = child.stdin.take() {
        let _ = pipe.write_all(stdin.as_bytes());
    }
    child.wait_with_output().expect("wait")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("utf-8 stderr")
}

/// Asserts exit 1 and a single stderr line that carries `SOURCE:LINE:COLUMN:`.
fn assert_input_error(o: &Output, line_col: &str) {
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(o));
    let err = stderr(o);
    assert_eq!(
        err.trim_end_matches('\n').lines().count(),
        1,
        "one line: {err:?}"
    );
    assert!(err.contains(line_col), "expected {line_col:?} in {err:?}");
    assert!(o.stdout.is_empty(), "no stdout on error");
}

const USERS_JSON: &str = r#"{"users":[{"id":1,"name":"Ada","role":"admin"},{"id":2,"name":"Bob","role":"user"}],"count":2}"#;
const USERS_TOON: &str = "users[2]{id,name,role}:\n  1,Ada,admin\n  2,Bob,user\ncount: 2";

#[test]
fn encode_file_writes_exact_toon_without_trailing_newline() {
    let f = TempFile::new("json", USERS_JSON);
    let o = palisade(&["toon", "encode", f.path()], "");
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), USERS_TOON);
    assert!(o.stderr.is_empty());
}

#[test]
fn encode_stdin_honours_delimiter_and_indent() {
    let o = palisade(
        &["toon", "encode", "--delimiter", "tab", "--indent", "4"],
        USERS_JSON,
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "users[2\t]{id\tname\trole}:\n    1\tAda\tadmin\n    2\tBob\tuser\ncount: 2"
    );
    let o = palisade(
        &["toon", "encode", "--delimiter", "pipe"],
        r#"{"t":["a|b","c"]}"#,
    );
    assert_eq!(stdout(&o), "t[2|]: \"a|b\"|c");
}

#[test]
fn encode_keeps_json_key_order() {
    let o = palisade(&["toon", "encode"], r#"{"z":1,"a":{"y":true,"b":null}}"#);
    assert_eq!(stdout(&o), "z: 1\na:\n  y: true\n  b: null");
}

#[test]
fn decode_writes_compact_json_in_document_order() {
    let o = palisade(&["toon", "decode"], USERS_TOON);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), USERS_JSON);
    let f = TempFile::new("toon", "b: 1\na[2]: x,\"y z\"");
    let o = palisade(&["toon", "decode", f.path()], "");
    assert_eq!(stdout(&o), r#"{"b":1,"a":["x","y z"]}"#);
}

#[test]
fn decode_indent_option() {
    let o = palisade(&["toon", "decode", "--indent", "4"], "a:\n    b: 1");
    assert_eq!(stdout(&o), r#"{"a":{"b":1}}"#);
    let o = palisade(&["toon", "decode"], "a:\n    b: 1");
    assert_input_error(&o, "<stdin>:2:5:");
}

#[test]
fn decode_no_strict_recovers_where_the_spec_allows() {
    let toon = "items[3]: a,b";
    assert_input_error(&palisade(&["toon", "decode"], toon), "<stdin>:1:");
    let o = palisade(&["toon", "decode", "--no-strict"], toon);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), r#"{"items":["a","b"]}"#);
    let o = palisade(&["toon", "decode", "--no-strict"], "foo[2]extra: a,b");
    assert_eq!(stdout(&o), r#"{"foo[2]extra":"a,b"}"#);
}

#[test]
fn bad_toon_is_exit_1_with_line_and_column() {
    let f = TempFile::new("toon", "users[2]{id,name}:\n  1,Ada\n");
    let o = palisade(&["toon", "decode", f.path()], "");
    assert_input_error(&o, &format!("{}:2:3:", f.path()));
    assert!(stderr(&o).contains("expected 2 tabular rows, but found 1"));
    assert_input_error(
        &palisade(&["toon", "decode"], "a: \"bad\\x\""),
        "<stdin>:1:4:",
    );
    assert_input_error(
        &palisade(&["toon", "decode"], "a: 1\n\tb: 2"),
        "<stdin>:2:1:",
    );
    // A duplicate key whose text holds a newline still prints on one line.
    assert_input_error(
        &palisade(&["toon", "decode"], "\"a\\nb\": 1\n\"a\\nb\": 2"),
        "<stdin>:2:1:",
    );
}

#[test]
fn bad_json_is_exit_1_with_line_and_column() {
    let o = palisade(&["toon", "encode"], "{\n  \"a\": [1,\n  }");
    assert_input_error(&o, "<stdin>:3:3:");
    assert!(stderr(&o).contains("invalid JSON"));
    let f = TempFile::new("json", "[1, 2");
    assert_input_error(
        &palisade(&["toon", "stats", f.path()], ""),
        &format!("{}:1:", f.path()),
    );
}

#[test]
fn encode_keeps_every_number_exact() {
    // Written unchanged by the reference encoder; these came back as
    // 9.999999999999999e-98, 1.4999999999999998e-300 and
    // 3.1500000000000004e-235 when JSON was read without exact float parsing.
    let o = palisade(
        &["toon", "encode"],
        r#"{"a":1e-97,"b":1.5e-300,"c":3.15e-235,"d":100000000000000000000,"e":-0.1}"#,
    );
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "a: 1e-97\nb: 1.5e-300\nc: 3.15e-235\nd: 100000000000000000000\ne: -0.1"
    );
    // Decoding the output and encoding it again gives the same text.
    let back = palisade(&["toon", "decode"], &stdout(&o));
    let again = palisade(&["toon", "encode"], &stdout(&back));
    assert_eq!(stdout(&again), stdout(&o));
}

#[test]
fn encode_refuses_an_integer_it_cannot_keep() {
    // Was written as 1.2345678901234568e+29 without a word.
    let o = palisade(
        &["toon", "encode"],
        "{\"ok\": 18446744073709551615,\n \"id\": 123456789012345678901234567890}",
    );
    assert_input_error(&o, "<stdin>:2:8:");
    let err = stderr(&o);
    assert!(err.contains("123456789012345678901234567890"), "{err}");
    assert!(err.contains("1.2345678901234568e+29"), "{err}");
    // The same number in TOON is refused by decode as well.
    let o = palisade(&["toon", "decode"], "id: 123456789012345678901234567890");
    assert_input_error(&o, "<stdin>:1:5:");
}

#[test]
fn encode_refuses_a_duplicate_key_as_strict_decode_does() {
    // Used to collapse to the last value silently.
    let o = palisade(
        &["toon", "encode"],
        "{\"a\": 1,\n \"b\": {\"k\": 1, \"k\": 2}}",
    );
    // The position is the repeated key's (just past its closing quote).
    assert_input_error(&o, "<stdin>:2:18:");
    assert!(stderr(&o).contains("duplicate key \"k\""), "{}", stderr(&o));
    let o = palisade(&["toon", "decode"], "b:\n  k: 1\n  k: 2");
    assert_input_error(&o, "<stdin>:3:3:");
    assert!(stderr(&o).contains("duplicate key \"k\""), "{}", stderr(&o));
}

#[test]
fn unreadable_input_is_exit_1() {
    let o = palisade(&["toon", "encode", "/nonexistent/palisade/input.json"], "");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).lines().count(), 1);
}

#[test]
fn usage_errors_are_exit_2() {
    for args in [
        &["toon"][..],
        &["toon", "encode", "--delimiter", "semicolon"],
        &["toon", "encode", "--indent", "0"],
        &["toon", "encode", "--indent", "two"],
        &["toon", "decode", "--strict-ish"],
        &["toon", "stats"],
        &["toon", "frobnicate"],
        &["nope"],
    ] {
        let o = palisade(args, "{}");
        assert_eq!(o.status.code(), Some(2), "args {args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "args {args:?}");
    }
}

#[test]
fn stats_reports_every_format_with_savings() {
    let rows: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"id":{i},"name":"user{i}","active":true}}"#))
        .collect();
    let f = TempFile::new("json", &format!("[{}]", rows.join(",")));
    let o = palisade(&["toon", "stats", f.path()], "");
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    for label in [
        "JSON (2-space)",
        "JSON compact",
        "TOON comma",
        "TOON tab",
        "TOON pipe",
        "%",
    ] {
        assert!(out.contains(label), "{label} missing from:\n{out}");
    }
    let toon_line = out
        .lines()
        .find(|l| l.starts_with("TOON comma"))
        .unwrap_or_default();
    let cols: Vec<&str> = toon_line.split_whitespace().collect();
    // label(2 words) bytes tokens vs-json vs-compact
    let vs_compact: f64 = cols[5].trim_end_matches('%').parse().expect("percent");
    assert!(vs_compact > 20.0, "uniform rows save tokens: {toon_line}");
}
