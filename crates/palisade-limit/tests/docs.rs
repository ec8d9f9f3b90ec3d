//! The configurations shown in docs/limits.md parse and validate.

use std::time::Duration;

use palisade_limit::{ClockSource, DropRule, Limiter, LimiterConfig, Quota};

#[test]
fn the_documented_config_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/limits.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        // Outside the workspace (a packaged crate) the guide is not there.
        return;
    };
    // The full example (the one naming its limiter), not a section's snippet.
    let start = doc.find("```toml\nname = ").expect("the full toml example") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let config: LimiterConfig = toml::from_str(&doc[start..end]).unwrap();
    assert_eq!(config.requests, Some(Quota::per_minute(50).with_burst(50)));
    assert_eq!(config.tokens, Some(Quota::per_minute(200_000)));
    assert_eq!(config.input_tokens, Some(Quota::per_minute(150_000)));
    assert_eq!(config.output_tokens, Some(Quota::per_minute(40_000)));
    assert_eq!(config.tokens_per_day, Some(Quota::per_day(100_000_000)));
    assert_eq!(config.max_wait, Duration::from_secs(30));
    assert_eq!(config.on_drop, DropRule::RefundAll);
    assert_eq!(config.clock, ClockSource::Tokio);
    assert_eq!(config.burndown.for_model("vendor/other-model"), 1);
    assert_eq!(
        config
            .burndown
            .for_model("vendor/claude-sonnet-4-5-20250929"),
        5
    );
    assert_eq!(config.burndown.for_model("vendor/claude-haiku-4-5"), 1);
    assert_eq!(config.name, "claude-sonnet");
    assert_eq!(
        config.learned_output.as_ref().map(|l| l.quantile),
        Some(0.99)
    );
    assert!(Limiter::new(config).is_ok());
}

#[test]
fn the_documented_learned_output_section_parses() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/limits.md");
    let Ok(doc) = std::fs::read_to_string(path) else {
        return;
    };
    let start = doc
        .find("```toml\n[learned_output]")
        .expect("the learned_output example")
        + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    let config: LimiterConfig = toml::from_str(&doc[start..end]).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.learned_output,
        Some(palisade_limit::LearnedOutputConfig::default())
    );
}
