use std::io;
use std::path::PathBuf;

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a template can fail on. Each variant names the template,
/// option, binary or path involved; messages start with a capital letter,
/// say what to do where there is something to do, and leave the underlying
/// cause to `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Unknown template '{name}'; known templates: {known}")]
    UnknownTemplate { name: String, known: String },

    #[error("Unknown option '{option}' for the {template} template; it takes: {takes}")]
    UnknownOption {
        template: &'static str,
        option: String,
        takes: &'static str,
    },

    #[error("Unexpected argument '{argument}' for the {template} template; it takes: {takes}")]
    UnexpectedArgument {
        template: &'static str,
        argument: String,
        takes: &'static str,
    },

    #[error("Option '{option}' of the {template} template needs a value")]
    MissingValue {
        template: &'static str,
        option: String,
    },

    #[error("Option '{option}' is one LXC passes to its template scripts itself; enclos gives the {template} template the container's name and rootfs directly, so drop it from the arguments after `--`")]
    InternalOption {
        template: &'static str,
        option: String,
    },

    /// `-h`/`--help` among the template arguments: the message is the usage,
    /// which the CLI prints before exiting successfully.
    #[error("{usage}")]
    Help {
        template: &'static str,
        usage: &'static str,
    },

    #[error("Invalid container name '{name}' for the {template} template: {reason}")]
    InvalidName {
        template: &'static str,
        name: String,
        reason: &'static str,
    },

    #[error("The busybox template needs a busybox binary: none in PATH; install it with: apt-get install busybox-static")]
    BusyboxNotInPath,

    #[error("The busybox template needs a busybox binary: {path} does not exist; install it with: apt-get install busybox-static")]
    BusyboxNotFound { path: PathBuf },

    #[error("The busybox template needs a busybox binary: {path} is not an executable file; install one with: apt-get install busybox-static")]
    BusyboxNotExecutable { path: PathBuf },

    #[error("The busybox template needs a static busybox binary: {path} is not an ELF executable ({reason}); install one with: apt-get install busybox-static")]
    BusyboxNotElf { path: PathBuf, reason: &'static str },

    #[error("{path} is dynamically linked (interpreter {interpreter}); the busybox template copies the binary alone into the rootfs, so it needs a static build: install it with: apt-get install busybox-static, or pass --busybox-path PATH to a static busybox")]
    BusyboxDynamic { path: PathBuf, interpreter: String },

    #[error("{path} lacks applets a busybox container needs ({missing}); use a full build such as Debian's busybox-static")]
    BusyboxApplets { path: PathBuf, missing: String },

    #[error("Cannot run {path} --list-full")]
    BusyboxSpawn {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("{path} --list-full failed ({status}){stderr}; is it a busybox binary?")]
    BusyboxList {
        path: PathBuf,
        status: std::process::ExitStatus,
        /// Empty, or `": "` and the first line of stderr.
        stderr: String,
    },

    #[error("Cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot create directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot fill the rootfs: {path} exists and is not a directory")]
    NotADirectory { path: PathBuf },

    #[error("Cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot copy {from} to {to}")]
    Copy {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("Cannot create symlink {path} -> {target}")]
    Symlink {
        path: PathBuf,
        target: String,
        #[source]
        source: io::Error,
    },

    #[error("Cannot set mode {mode:04o} on {path}")]
    Chmod {
        path: PathBuf,
        mode: u32,
        #[source]
        source: io::Error,
    },
}
