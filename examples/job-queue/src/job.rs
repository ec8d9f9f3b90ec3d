//! What travels through the queue: a document to analyse (the job's
//! arguments, stored by apalis as JSON in Redis) and what a worker answers.

use serde::{Deserialize, Serialize};

/// One document-analysis job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Document {
    /// The document's number in the batch (1-based), for the progress lines.
    pub(crate) number: u32,
    pub(crate) title: String,
    pub(crate) text: String,
    /// Set by the submitter through apalis's `Storage::update` to cancel a
    /// job that no worker has started: apalis 0.7 has no cancel call for a
    /// queued job, so the worker reads the stored job back when it starts
    /// and aborts it (`Error::Abort`), which apalis records as killed.
    #[serde(default)]
    pub(crate) cancel_requested: bool,
}

/// A worker's answer, stored by apalis as the job's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Analysis {
    pub(crate) number: u32,
    pub(crate) worker: String,
    pub(crate) summary: String,
}

/// The batch the demo submits: `count` short documents.
pub(crate) fn batch(count: u32) -> Vec<Document> {
    const TOPICS: [&str; 5] = [
        "supplier contract",
        "incident report",
        "board minutes",
        "privacy policy",
        "quarterly review",
    ];
    (1..=count)
        .map(|number| {
            let topic = TOPICS[(number as usize - 1) % TOPICS.len()];
            Document {
                number,
                title: format!("{topic} #{number}"),
                text: format!(
                    "Document {number}, {topic}: summarise its obligations, risks and dates."
                ),
                cancel_requested: false,
            }
        })
        .collect()
}
