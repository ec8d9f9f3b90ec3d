#![doc = include_str!("../README.md")]

pub use palisade_core as core;
