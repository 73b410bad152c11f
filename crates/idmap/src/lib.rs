#![doc = include_str!("../README.md")]

pub mod acl;
mod check;
mod error;
mod idmapped;
mod map;
mod search;
mod shift;
mod subid;
mod userns;
mod write;
pub mod xattr;
pub mod xattr_ids;

pub use check::{
    check, check_allocation, check_overlaps, default_maps_for, Finding, Owner, Problem,
};
pub use error::{Error, Result};
pub use idmapped::{idmapped_mount, move_mount, probe_idmapped_mount, supports_idmapped_mounts};
pub use map::{IdKind, IdMap, IdMaps};
pub use search::{mode_may_search, root_may_search};
pub use shift::{shift_tree, Direction, ShiftStats};
pub use subid::{
    Allocation, SubIdPaths, SubIdRange, SubIds, SUBGID, SUBUID, SUB_ID_COUNT, SUB_ID_MIN,
};
pub use userns::userns_fd_for;
pub use write::{find_helper, write_directly, write_maps, write_with_helpers, Writer, HELPER_DIRS};
