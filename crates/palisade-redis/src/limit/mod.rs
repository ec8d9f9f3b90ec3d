//! The shared limit: the Lua scripts, the lease renewal, and the
//! [`LimitStore`](palisade_limit::LimitStore) built on them.

mod limits;
mod renewal;
pub mod scripts;
mod stamp;
mod store;

pub use scripts::{AdmitReply, BucketRate, PreparedLimit, Refusal, SettleReply, SharedLimits};
pub use stamp::RefundStamp;
pub use store::RedisLimitStore;
