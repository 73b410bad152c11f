//! Unit tests: parsing, v1→v2 translation, and applying against fake
//! cgroup trees in temporary directories.

use std::path::{Path, PathBuf};

use crate::{parse_str, Config, Location, Setting};

mod apply;
mod parse;
mod translate;

pub(crate) const COURSE: &str = "\
group helloworld2 {
    cpu {
        cpu.shares = 100;
    }
    memory {
        memory.limit_in_bytes = 40000;
    }
}
";

pub(crate) fn at(line: usize, column: usize) -> Location {
    Location {
        file: PathBuf::from("cgconfig.conf"),
        line,
        column,
    }
}

pub(crate) fn parse(text: &str) -> Config {
    parse_str(text, Path::new("cgconfig.conf")).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn setting(key: &str, value: &str, line: usize, column: usize) -> Setting {
    Setting {
        key: key.into(),
        value: value.into(),
        at: at(line, column),
    }
}
