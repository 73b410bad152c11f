//! Reading configuration files and directories into one [`Config`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::ast::Config;
use crate::error::{ConfigError, Error, Result};
use crate::lexer::lex;
use crate::parser::Parser;
/// Parses the text of a configuration file; `origin` names it in
/// locations and errors.
pub fn parse_str(text: &str, origin: &Path) -> std::result::Result<Config, ConfigError> {
    Parser::new(lex(text, origin)?, origin).config()
}

/// Reads and parses one file.
pub fn parse_file(path: &Path) -> Result<Config> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_str(&text, path)?)
}

/// The files of a directory such as `/etc/cgconfig.d` that libcgroup
/// reads: every regular file (or link to one), sorted by name, except
/// hidden files and backups ending in `~`.
pub fn config_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let read_err = |source| Error::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let path = entry.path();
        // Follows links: a link to a regular file counts, a dangling one not.
        if fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every file of `dir` (see [`config_files`]) into one
/// configuration.
pub fn load_dir(dir: &Path) -> Result<Config> {
    load(&config_files(dir)?, &[])
}

/// Reads `files`, then the files of each of `dirs`, into one
/// configuration; an item defined twice is an error naming both places.
pub fn load(files: &[PathBuf], dirs: &[PathBuf]) -> Result<Config> {
    let mut all: Vec<PathBuf> = files.to_vec();
    for d in dirs {
        all.extend(config_files(d)?);
    }
    let mut config = Config::default();
    for f in &all {
        config.merge(parse_file(f)?)?;
    }
    Ok(config)
}
