//! The rate-limiting sidecar's environment variables, read onto a
//! [`StackConfig`] by [`StackConfig::apply_env`]: what maps cleanly onto a
//! stack key is carried, the rest is named in docs/config.md with the
//! reason it is not.

use std::time::Duration;

use palisade_limit::Quota;

use super::StackConfigError;
use super::config::StackConfig;
use super::provider::ProviderKind;

/// The sidecar's variables [`StackConfig::apply_env`] reads, beside the
/// limiter's [`ENV_VARS`](super::ENV_VARS): `DEFAULT_MODEL`,
/// `REQUEST_TIMEOUT`, `MAX_RETRIES`, `MONTHLY_BUDGET_ALERT`, and per
/// provider `<PROVIDER>_RPM` and `<PROVIDER>_TPM` (`BEDROCK_`, `OPENAI_`,
/// `ANTHROPIC_`).
pub const SIDECAR_ENV_VARS: [&str; 10] = [
    "DEFAULT_MODEL",
    "REQUEST_TIMEOUT",
    "MAX_RETRIES",
    "MONTHLY_BUDGET_ALERT",
    "BEDROCK_RPM",
    "BEDROCK_TPM",
    "OPENAI_RPM",
    "OPENAI_TPM",
    "ANTHROPIC_RPM",
    "ANTHROPIC_TPM",
];

/// The providers with `<PROVIDER>_RPM` / `_TPM` variables.
const LIMITED: [(ProviderKind, &str, &str); 3] = [
    (ProviderKind::Bedrock, "BEDROCK_RPM", "BEDROCK_TPM"),
    (ProviderKind::OpenAi, "OPENAI_RPM", "OPENAI_TPM"),
    (ProviderKind::Anthropic, "ANTHROPIC_RPM", "ANTHROPIC_TPM"),
];

fn bad(var: &str, value: &str, expected: &str) -> StackConfigError {
    // Bounded, so a hostile value cannot make the error huge.
    let value: String = value.chars().take(64).collect();
    StackConfigError::Env(format!("`{var}` = {value:?}: expected {expected}"))
}

/// The variable's value, `None` when unset or blank.
fn read<'a>(lookup: &impl Fn(&str) -> Option<String>, var: &'a str) -> Option<(&'a str, String)> {
    lookup(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .map(|v| (var, v))
}

fn whole(var: &str, value: &str) -> Result<u64, StackConfigError> {
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad(var, value, "a whole number of at least 1")),
    }
}

fn attempts(var: &str, value: &str) -> Result<u32, StackConfigError> {
    let n = whole(var, value)?;
    u32::try_from(n).map_err(|_| bad(var, value, "a whole number of at least 1"))
}

fn usd(var: &str, value: &str) -> Result<f64, StackConfigError> {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(bad(
            var,
            value,
            "a number of USD above 0 (\"500\", \"500.0\")",
        )),
    }
}

fn timeout(var: &str, value: &str) -> Result<Duration, StackConfigError> {
    match palisade_core::duration::parse(value) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(bad(
            var,
            value,
            "a positive number of seconds or a duration (\"30\", \"30s\", \"2m\")",
        )),
    }
}

impl StackConfig {
    /// Reads the sidecar's variables (see [`SIDECAR_ENV_VARS`]); called by
    /// [`apply_env_from`](StackConfig::apply_env_from) after the limiter's.
    pub(super) fn apply_sidecar_env(
        &mut self,
        lookup: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), StackConfigError> {
        if let Some((var, value)) = read(lookup, "REQUEST_TIMEOUT") {
            self.timeout.per_attempt = Some(timeout(var, &value)?);
        }
        if let Some((var, value)) = read(lookup, "MAX_RETRIES") {
            // The sidecar makes MAX_RETRIES calls in all (`for attempt in
            // range(MAX_RETRIES)`): attempts, not retries after the first.
            self.retry.max_attempts = attempts(var, &value)?;
        }
        if let Some((var, value)) = read(lookup, "MONTHLY_BUDGET_ALERT") {
            // Alert-only, as in the sidecar: `[alerts]`, not `[budget]`,
            // which would refuse calls the sidecar only reported.
            let usd = usd(var, &value)?;
            self.alerts
                .get_or_insert_with(Default::default)
                .monthly_spend_usd = Some(usd);
        }
        if let Some((_, model)) = read(lookup, "DEFAULT_MODEL") {
            self.make_primary(&model);
        }
        for (kind, rpm_var, tpm_var) in LIMITED {
            let rpm = read(lookup, rpm_var)
                .map(|(var, v)| whole(var, &v))
                .transpose()?;
            let tpm = read(lookup, tpm_var)
                .map(|(var, v)| whole(var, &v))
                .transpose()?;
            if rpm.is_none() && tpm.is_none() {
                continue;
            }
            let stack_limit = self.limit.clone();
            // A candidate naming an unknown provider is left for `validate`
            // to report.
            for c in self
                .candidates
                .iter_mut()
                .filter(|c| c.provider_kind().ok() == Some(kind))
            {
                let limit = c
                    .limit
                    .get_or_insert_with(|| stack_limit.clone().unwrap_or_default());
                if let Some(n) = rpm {
                    limit.requests = Some(Quota::per_minute(n));
                }
                if let Some(n) = tpm {
                    limit.tokens = Some(Quota::per_minute(n));
                }
            }
        }
        Ok(())
    }

    /// Puts the candidate `model` names first, adding it when absent.
    fn make_primary(&mut self, model: &str) {
        let at = self
            .candidates
            .iter()
            .position(|c| c.id == model || c.model() == model);
        let primary = match at {
            Some(i) => self.candidates.remove(i),
            None => super::CandidateConfig::new(model),
        };
        self.candidates.insert(0, primary);
    }
}
