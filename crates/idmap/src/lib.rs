#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod map;

pub use map::{IdKind, IdMap, IdMaps};
