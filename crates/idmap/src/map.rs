//! `lxc.idmap` lines and the set of them a container has.

use serde::Serialize;

/// Which ids an `lxc.idmap` line maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// `u`: user ids.
    Uid,
    /// `g`: group ids.
    Gid,
}

impl IdKind {
    /// The letter of an `lxc.idmap` line: `u` or `g`.
    pub fn letter(self) -> char {
        match self {
            IdKind::Uid => 'u',
            IdKind::Gid => 'g',
        }
    }
}

/// `lxc.idmap = u|g CONTAINER_ID HOST_ID RANGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct IdMap {
    pub kind: IdKind,
    /// The first id as seen inside the container.
    pub container_id: u32,
    /// The first id as seen on the host.
    pub host_id: u32,
    /// How many consecutive ids are mapped (at least 1).
    pub range: u32,
}

/// A decimal id: digits only, no sign.
fn parse_id(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl IdMap {
    /// Parses the value of an `lxc.idmap` (or legacy `lxc.id_map`) line.
    /// The error says what was expected.
    pub fn parse(value: &str) -> Result<IdMap, String> {
        let expected = || "u|g CONTAINER_ID HOST_ID RANGE, e.g. 'u 0 100000 65536'".to_string();
        let fields: Vec<&str> = value.split_whitespace().collect();
        let [kind, container_id, host_id, range] = fields.as_slice() else {
            return Err(expected());
        };
        let kind = match *kind {
            "u" => IdKind::Uid,
            "g" => IdKind::Gid,
            _ => return Err(expected()),
        };
        let number = |s: &str| parse_id(s).ok_or_else(expected);
        let (container_id, host_id, range) =
            (number(container_id)?, number(host_id)?, number(range)?);
        let end = |start: u32| u64::from(start) + u64::from(range);
        if range == 0 {
            return Err("a RANGE of at least 1".to_string());
        }
        if end(container_id) > u64::from(u32::MAX) || end(host_id) > u64::from(u32::MAX) {
            return Err("ids with ID + RANGE at most 4294967295".to_string());
        }
        Ok(IdMap {
            kind,
            container_id,
            host_id,
            range,
        })
    }

    /// The host id of `container_id`, if this line maps it.
    pub fn host_id_of(&self, container_id: u32) -> Option<u32> {
        let offset = container_id.checked_sub(self.container_id)?;
        (offset < self.range).then(|| self.host_id + offset)
    }

    /// The container id of `host_id`, if this line maps it.
    pub fn container_id_of(&self, host_id: u32) -> Option<u32> {
        let offset = host_id.checked_sub(self.host_id)?;
        (offset < self.range).then(|| self.container_id + offset)
    }
}

impl std::fmt::Display for IdMap {
    /// The line as `lxc.idmap` writes it: `u 0 165536 65536`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.kind.letter(),
            self.container_id,
            self.host_id,
            self.range
        )
    }
}

/// The id maps of one container, in the order of its config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IdMaps {
    maps: Vec<IdMap>,
}

impl IdMaps {
    pub fn new(maps: Vec<IdMap>) -> IdMaps {
        IdMaps { maps }
    }

    /// No map at all: the container shares the host's user namespace.
    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// Every line, in order.
    pub fn all(&self) -> &[IdMap] {
        &self.maps
    }

    /// The lines of one kind, in order.
    pub fn of(&self, kind: IdKind) -> impl Iterator<Item = &IdMap> {
        self.maps.iter().filter(move |m| m.kind == kind)
    }

    /// The host id of a container id, if some line maps it.
    pub fn host_id(&self, kind: IdKind, container_id: u32) -> Option<u32> {
        self.of(kind).find_map(|m| m.host_id_of(container_id))
    }

    /// The container id of a host id, if some line maps it.
    pub fn container_id(&self, kind: IdKind, host_id: u32) -> Option<u32> {
        self.of(kind).find_map(|m| m.container_id_of(host_id))
    }

    /// The text of `/proc/PID/uid_map` (or `gid_map`): one
    /// `CONTAINER_ID HOST_ID RANGE` line per map of `kind`.
    pub fn map_text(&self, kind: IdKind) -> String {
        self.of(kind)
            .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.range))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("u 0 100000 65536", IdMap { kind: IdKind::Uid, container_id: 0, host_id: 100000, range: 65536 })]
    #[case("g  1000\t1000 1", IdMap { kind: IdKind::Gid, container_id: 1000, host_id: 1000, range: 1 })]
    #[case("u 0 0 4294967295", IdMap { kind: IdKind::Uid, container_id: 0, host_id: 0, range: u32::MAX })]
    fn idmaps(#[case] value: &str, #[case] expected: IdMap) {
        assert_eq!(IdMap::parse(value), Ok(expected));
    }

    #[rstest]
    #[case("b 0 100000 65536")]
    #[case("u 0 100000")]
    #[case("u 0 100000 65536 1")]
    #[case("u 0 -1 10")]
    #[case("u 0 +1 10")]
    #[case("u 0 100000 0")]
    #[case("u 1 0 4294967295")]
    fn bad_idmaps(#[case] value: &str) {
        assert!(IdMap::parse(value).is_err());
    }

    #[test]
    fn lookups_and_kernel_text() {
        let maps = IdMaps::new(vec![
            IdMap::parse("u 0 165536 1000").unwrap(),
            IdMap::parse("u 1000 1000 1").unwrap(),
            IdMap::parse("g 0 165536 65536").unwrap(),
        ]);
        assert_eq!(maps.host_id(IdKind::Uid, 999), Some(166535));
        assert_eq!(maps.host_id(IdKind::Uid, 1000), Some(1000));
        assert_eq!(maps.host_id(IdKind::Uid, 1001), None);
        assert_eq!(maps.container_id(IdKind::Uid, 165537), Some(1));
        assert_eq!(maps.container_id(IdKind::Gid, 100), None);
        assert_eq!(maps.map_text(IdKind::Uid), "0 165536 1000\n1000 1000 1\n");
        assert_eq!(maps.all()[0].to_string(), "u 0 165536 1000");
    }
}
