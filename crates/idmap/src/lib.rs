#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod check;
mod error;
mod map;
mod subid;
mod write;

pub use check::{
    check, check_allocation, check_overlaps, default_maps_for, Finding, Owner, Problem,
};
pub use error::{Error, Result};
pub use map::{IdKind, IdMap, IdMaps};
pub use subid::{
    Allocation, SubIdPaths, SubIdRange, SubIds, SUBGID, SUBUID, SUB_ID_COUNT, SUB_ID_MIN,
};
pub use write::{find_helper, write_directly, write_maps, write_with_helpers, Writer, HELPER_DIRS};
