//! The fake Bedrock server (being written).
