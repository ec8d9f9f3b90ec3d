//! The token report against the official benchmark's published figures.
#![cfg(feature = "tokens")]

use std::path::Path;

use palisade_toon::{
    EncodeOptions, PromptFormat, TokenReport, Value, count_tokens, encode, encode_for_prompt,
};

fn bench_file(name: &str) -> Option<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench-data")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(_) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "missing {}",
                path.display()
            );
            println!("skipping: {} not found", path.display());
            None
        }
    }
}

/// The official TOON benchmark publishes 8,937 o200k_base tokens for this
/// data set. The encoder's exact output (no trailing newline, byte-identical
/// to the reference encoder) counts 8,936; the document with its final line
/// break, as saved to a file, counts 8,937.
#[test]
fn github_repos_matches_the_published_toon_count() -> Result<(), palisade_toon::Error> {
    let Some(json) = bench_file("github-repos.json") else {
        return Ok(());
    };
    let value: Value = serde_json::from_str(&json)
        .map_err(|e| palisade_toon::Error::new(palisade_toon::ErrorKind::Message(e.to_string())))?;
    let toon = encode(&value, &EncodeOptions::default())?;
    assert_eq!(count_tokens(&format!("{toon}\n"))?, 8_937);
    assert_eq!(count_tokens(&toon)?, 8_936);
    let report = TokenReport::of_value(&value)?;
    assert_eq!(report.toon_comma.tokens, 8_936);
    assert!(report.toon_comma.tokens < report.json_compact.tokens);
    assert!(report.json_compact.tokens < report.json_pretty.tokens);
    Ok(())
}

#[test]
fn encode_for_prompt_never_costs_more_than_compact_json() -> Result<(), palisade_toon::Error> {
    // Uniform rows: TOON wins.
    let rows: Vec<_> = (0..50)
        .map(|i| serde_json::json!({"id": i, "name": format!("n{i}"), "ok": i % 2 == 0}))
        .collect();
    let enc = encode_for_prompt(&rows)?;
    assert!(matches!(enc.format, PromptFormat::Toon(_)));
    assert!(enc.tokens < enc.json_compact_tokens);
    assert_eq!(count_tokens(&enc.text)?, enc.tokens);
    // Deep, non-uniform data: whichever is cheaper, never worse than JSON.
    let deep = serde_json::json!({"a": {"b": {"c": {"d": {"e": [1, {"f": [2, {"g": 3}]}, "x"]}}}}});
    let enc = encode_for_prompt(&deep)?;
    assert!(enc.tokens <= enc.json_compact_tokens);
    if enc.format == PromptFormat::JsonCompact {
        assert_eq!(enc.text, serde_json::to_string(&deep).unwrap_or_default());
    }
    Ok(())
}

/// The examples of docs/toon.md: deep or non-uniform data where TOON costs
/// more than compact JSON, so `encode_for_prompt` keeps JSON.
#[test]
fn nested_and_non_uniform_examples_fall_back_to_json() -> Result<(), palisade_toon::Error> {
    for name in ["nested-config.json", "events-mixed.json"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            palisade_toon::Error::new(palisade_toon::ErrorKind::Message(e.to_string()))
        })?;
        let report = TokenReport::of_value(&value)?;
        assert!(
            report.toon_comma.tokens > report.json_compact.tokens,
            "{name}: {report:?}"
        );
        let enc = encode_for_prompt(&value)?;
        assert_eq!(enc.format, PromptFormat::JsonCompact, "{name}");
        assert_eq!(enc.tokens, report.json_compact.tokens);
        // And the TOON text still round-trips.
        let toon = encode(&value, &EncodeOptions::default())?;
        assert_eq!(palisade_toon::decode(&toon, &Default::default())?, value);
    }
    Ok(())
}
