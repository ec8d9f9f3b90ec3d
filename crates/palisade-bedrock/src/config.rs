//! How a Bedrock Runtime client is configured: region, endpoint, profile,
//! credentials, and whether the SDK retries on its own.

use aws_config::BehaviorVersion;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{Credentials, Region};
use serde::{Deserialize, Serialize};

/// Client settings shared by every model of a stack (one client, one
/// connection pool). Every field is optional; the defaults are the ones a
/// production deployment wants.
///
/// ```toml
/// region = "us-east-1"                  # default: BEDROCK_REGION, AWS_REGION, then the AWS profile
/// endpoint_url = "http://127.0.0.1:8080" # default: the regional endpoint (or AWS_ENDPOINT_URL_BEDROCK_RUNTIME)
/// profile = "prod"                      # default: AWS_PROFILE, else "default"
/// sdk_retries = false                   # default: false (the stack owns retries)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BedrockConfig {
    /// AWS region, e.g. `us-east-1`. Default: `BEDROCK_REGION`, then
    /// `AWS_REGION`, then the region of the AWS profile.
    pub region: Option<String>,
    /// Endpoint URL override: a VPC endpoint, or a local fake. Default: the
    /// region's Bedrock Runtime endpoint (the SDK also honours
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
    pub endpoint_url: Option<String>,
    /// AWS profile for credentials and region. Default: `AWS_PROFILE`, else
    /// `default`.
    pub profile: Option<String>,
    /// Keep the SDK's own retries (standard mode, 3 attempts). Default
    /// `false`: Palisade's retry layer decides, with Retry-After, budgets and
    /// fallback in view; SDK retries underneath would multiply its attempts
    /// (3 × 3 = 9 calls where 3 were configured) and hide throttling from the
    /// limiter and breaker.
    pub sdk_retries: bool,
}

/// A configuration that cannot produce a working client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BedrockConfigError {
    /// No region from the config, the environment or the AWS profile.
    #[error(
        "no AWS region: set `region` in the config, BEDROCK_REGION or AWS_REGION, or a region in the AWS profile"
    )]
    NoRegion,
    /// An environment variable holds a value that cannot be used.
    #[error("{variable}: {message}")]
    InvalidVariable {
        /// The variable's name.
        variable: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A model id that cannot be one (empty, or containing whitespace).
    #[error("invalid model id {id:?}: {message}")]
    InvalidModelId {
        /// The id as given.
        id: String,
        /// What is wrong with it.
        message: &'static str,
    },
}

impl BedrockConfig {
    /// The region to use before the AWS profile is consulted: the config's,
    /// else `BEDROCK_REGION`, else `AWS_REGION`.
    pub fn explicit_region(&self) -> Option<String> {
        self.region
            .clone()
            .or_else(|| non_empty_var("BEDROCK_REGION"))
            .or_else(|| non_empty_var("AWS_REGION"))
    }

    /// Builds a client with credentials from the default AWS chain
    /// (environment, profile, SSO, web identity, ECS / EC2 roles).
    pub async fn client(&self) -> Result<Client, BedrockConfigError> {
        self.build_client(None).await
    }

    /// Builds a client with the given credentials.
    pub async fn client_with_credentials(
        &self,
        credentials: Credentials,
    ) -> Result<Client, BedrockConfigError> {
        self.build_client(Some(credentials)).await
    }

    async fn build_client(
        &self,
        credentials: Option<Credentials>,
    ) -> Result<Client, BedrockConfigError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = self.explicit_region() {
            loader = loader.region(Region::new(region));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(credentials) = credentials {
            loader = loader.credentials_provider(credentials);
        }
        loader = loader.retry_config(self.retry_config());
        let sdk_config = loader.load().await;
        if sdk_config.region().is_none() {
            return Err(BedrockConfigError::NoRegion);
        }
        Ok(Client::new(&sdk_config))
    }

    /// Whether the default credential chain (with this config's profile and
    /// region) yields credentials, waiting at most `timeout`: for a startup
    /// check, or to choose between Bedrock and a fake. It may query the
    /// instance metadata service, which is a network call.
    pub async fn credentials_available(&self, timeout: std::time::Duration) -> bool {
        use aws_credential_types::provider::ProvideCredentials;

        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = self.explicit_region() {
            loader = loader.region(Region::new(region));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let check = async {
            match loader.load().await.credentials_provider() {
                Some(provider) => provider.provide_credentials().await.is_ok(),
                None => false,
            }
        };
        tokio::time::timeout(timeout, check).await.unwrap_or(false)
    }

    fn retry_config(&self) -> RetryConfig {
        if self.sdk_retries {
            RetryConfig::standard()
        } else {
            RetryConfig::disabled()
        }
    }
}

/// A copy of `client` with the SDK's retries turned off (same connection
/// pool, credentials and endpoint).
pub(crate) fn without_sdk_retries(client: &Client) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Checks that `id` can be a model id, inference-profile id or ARN.
pub(crate) fn check_model_id(id: &str) -> Result<(), BedrockConfigError> {
    let message = if id.is_empty() {
        "it is empty"
    } else if id.chars().any(char::is_whitespace) {
        "it contains whitespace"
    } else {
        return Ok(());
    };
    Err(BedrockConfigError::InvalidModelId {
        id: id.to_owned(),
        message,
    })
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_turn_sdk_retries_off() {
        let config: BedrockConfig = from_json(r#"{"region": "eu-west-1"}"#);
        assert_eq!(config.region.as_deref(), Some("eu-west-1"));
        assert!(!config.sdk_retries);
        assert_eq!(config.retry_config().max_attempts(), 1);
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<BedrockConfig>(r#"{"regoin": "x"}"#).is_err());
    }

    #[test]
    fn model_ids_are_checked() {
        assert!(check_model_id("us.anthropic.claude-sonnet-4-6").is_ok());
        assert!(check_model_id("").is_err());
        assert!(check_model_id("us.anthropic claude").is_err());
    }

    fn from_json(json: &str) -> BedrockConfig {
        serde_json::from_str(json).unwrap()
    }
}
