//! The shared limit: scripts and the store built on them.

pub mod scripts;

pub use scripts::{AdmitReply, BucketRate, Refusal, SettleReply, SharedLimits};
