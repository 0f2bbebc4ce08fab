//! `MachinesLine`: one remote builder in Nix's machines format, and reading a machines list.
//!
//! Format (Nix 2.8 libstore/machines.cc): entries are separated by newlines or `;`, `#` starts
//! a comment, `@FILE` reads another machines file; an entry is whitespace-separated fields
//! `URI SYSTEMS SSH-KEY MAX-JOBS SPEED-FACTOR SUPPORTED-FEATURES MANDATORY-FEATURES HOST-KEY`,
//! where `-` (or a missing field) means unset, lists are comma-separated, and HOST-KEY is the
//! base64 of the builder's public host key line (`ssh-ed25519 AAAA...`). Nix 2.8 takes no port in
//! the URI, so ours names an ssh_config alias.

use crate::error::UserFacing;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MachinesLineError {
    #[error("the machines line field {field} is empty")]
    Empty { field: &'static str },
    #[error("the machines line field {field} ({value:?}) contains whitespace, `#`, `;` or a control character")]
    BadChar { field: &'static str, value: String },
    #[error("the machines line list {field} has an empty or bad item in {value:?}")]
    BadListItem { field: &'static str, value: String },
    #[error("the machines line field {field} must be a whole number of at least 1, not {value:?}")]
    BadNumber { field: &'static str, value: String },
    #[error("the builder URI {0:?} must look like ssh-ng://user@host (no port: Nix 2.8 rejects it)")]
    BadUri(String),
    #[error("the public host key {0:?} is not base64 of an OpenSSH public key line")]
    BadHostKey(String),
    #[error("the machines line is empty")]
    NoFields,
}

impl UserFacing for MachinesLineError {
    fn hint(&self) -> String {
        match self {
            MachinesLineError::BadUri(_) => {
                "Use an ssh_config host alias in the URI and put the port in the ssh_config Host block.".into()
            }
            MachinesLineError::BadHostKey(_) => {
                "Regenerate the builder's keys (`builderbar keys rotate`) and run setup again.".into()
            }
            _ => "Check the builder settings (alias, key path, systems, features): Nix's machines format \
                  separates fields by spaces, so no value may contain spaces, `#` or `;`."
                .into(),
        }
    }
}

/// One entry of a machines list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachinesLine {
    /// `ssh-ng://builder@builderbar-linux`.
    pub uri: String,
    /// `x86_64-linux`, ... (empty: Nix assumes the local system).
    pub systems: Vec<String>,
    /// Path of the private key the daemon uses (`None`: ssh's default).
    pub ssh_key: Option<String>,
    pub max_jobs: u32,
    pub speed_factor: u32,
    pub supported_features: Vec<String>,
    pub mandatory_features: Vec<String>,
    /// Base64 of the host's public key line (`None`: ssh's known_hosts decides).
    pub public_host_key: Option<String>,
}

fn check_field(field: &'static str, v: &str) -> Result<(), MachinesLineError> {
    if v.is_empty() {
        return Err(MachinesLineError::Empty { field });
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#' || c == ';') {
        return Err(MachinesLineError::BadChar { field, value: v.into() });
    }
    Ok(())
}

fn check_list(field: &'static str, items: &[String]) -> Result<(), MachinesLineError> {
    for i in items {
        check_field(field, i)?;
        if i.contains(',') || i == "-" {
            return Err(MachinesLineError::BadListItem { field, value: items.join(",") });
        }
    }
    Ok(())
}

fn list_field(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

/// Base64 (standard alphabet, padded) as Nix's machines format wants it.
pub fn base64_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Inverse of `base64_encode`; `None` for anything that is not padded standard base64.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    for (ci, chunk) in s.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != s.len() / 4) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// `ssh-ed25519 AAAA... [comment]` on one line.
fn is_public_key_line(l: &str) -> bool {
    let mut parts = l.split_whitespace();
    let (Some(kind), Some(blob)) = (parts.next(), parts.next()) else {
        return false;
    };
    (kind.starts_with("ssh-") || kind.starts_with("ecdsa-"))
        && base64_decode(blob).is_some()
        && !l.contains(['\n', '\r'])
}

impl MachinesLine {
    /// Our builder: `ssh-ng://<user>@<alias>`, pinned to `host_key_line` (`ssh-ed25519 AAAA...`).
    #[allow(clippy::too_many_arguments)]
    pub fn ssh_ng(
        user: &str,
        alias: &str,
        systems: Vec<String>,
        ssh_key: &str,
        max_jobs: u32,
        speed_factor: u32,
        supported_features: Vec<String>,
        host_key_line: &str,
    ) -> Result<MachinesLine, MachinesLineError> {
        let line = MachinesLine {
            uri: format!("ssh-ng://{user}@{alias}"),
            systems,
            ssh_key: Some(ssh_key.into()),
            max_jobs,
            speed_factor,
            supported_features,
            mandatory_features: Vec::new(),
            public_host_key: Some(base64_encode(host_key_line.trim().as_bytes())),
        };
        line.validate()?;
        Ok(line)
    }

    /// The host part of the URI (what ssh resolves through ssh_config), without the user.
    pub fn host(&self) -> &str {
        let rest = self.uri.split_once("://").map_or(self.uri.as_str(), |(_, r)| r);
        rest.rsplit_once('@').map_or(rest, |(_, h)| h)
    }

    /// The ssh user in the URI, if any.
    pub fn user(&self) -> Option<&str> {
        let rest = self.uri.split_once("://").map_or(self.uri.as_str(), |(_, r)| r);
        rest.rsplit_once('@').map(|(u, _)| u)
    }

    /// The decoded public host key line (`ssh-ed25519 AAAA...`).
    pub fn host_key_line(&self) -> Option<String> {
        let raw = base64_decode(self.public_host_key.as_deref()?)?;
        String::from_utf8(raw).ok()
    }

    pub fn validate(&self) -> Result<(), MachinesLineError> {
        check_field("URI", &self.uri)?;
        let Some((scheme, rest)) = self.uri.split_once("://") else {
            return Err(MachinesLineError::BadUri(self.uri.clone()));
        };
        let host = self.host();
        if !matches!(scheme, "ssh" | "ssh-ng") || rest.is_empty() || host.is_empty() || host.contains([':', '/']) {
            return Err(MachinesLineError::BadUri(self.uri.clone()));
        }
        check_list("systems", &self.systems)?;
        if let Some(k) = &self.ssh_key {
            check_field("ssh key", k)?;
            if k == "-" {
                return Err(MachinesLineError::BadChar { field: "ssh key", value: k.clone() });
            }
        }
        for (field, n) in [("max jobs", self.max_jobs), ("speed factor", self.speed_factor)] {
            if n == 0 {
                return Err(MachinesLineError::BadNumber { field, value: n.to_string() });
            }
        }
        check_list("supported features", &self.supported_features)?;
        check_list("mandatory features", &self.mandatory_features)?;
        if let Some(k) = &self.public_host_key {
            if !self.host_key_line().is_some_and(|l| is_public_key_line(&l)) {
                return Err(MachinesLineError::BadHostKey(k.clone()));
            }
        }
        Ok(())
    }

    /// The line as Nix reads it (no newline).
    pub fn render(&self) -> String {
        [
            self.uri.clone(),
            list_field(&self.systems),
            self.ssh_key.clone().unwrap_or_else(|| "-".into()),
            self.max_jobs.to_string(),
            self.speed_factor.to_string(),
            list_field(&self.supported_features),
            list_field(&self.mandatory_features),
            self.public_host_key.clone().unwrap_or_else(|| "-".into()),
        ]
        .join(" ")
    }

    /// Parses one entry (no `;`, no `@file`); the inverse of `render` for valid lines.
    pub fn parse(entry: &str) -> Result<MachinesLine, MachinesLineError> {
        let code = entry.split('#').next().unwrap_or("");
        let f: Vec<&str> = code.split_whitespace().collect();
        if f.is_empty() {
            return Err(MachinesLineError::NoFields);
        }
        let get = |i: usize| f.get(i).copied().filter(|v| !v.is_empty() && *v != "-");
        let list = |i: usize| get(i).map(|v| v.split(',').map(String::from).collect()).unwrap_or_default();
        let num = |i: usize, field: &'static str| -> Result<u32, MachinesLineError> {
            match get(i) {
                None => Ok(1),
                Some(v) => v.parse().map_err(|_| MachinesLineError::BadNumber { field, value: v.into() }),
            }
        };
        let line = MachinesLine {
            uri: f[0].into(),
            systems: list(1),
            ssh_key: get(2).map(String::from),
            max_jobs: num(3, "max jobs")?,
            speed_factor: num(4, "speed factor")?,
            supported_features: list(5),
            mandatory_features: list(6),
            public_host_key: get(7).map(String::from),
        };
        line.validate()?;
        Ok(line)
    }
}

impl std::fmt::Display for MachinesLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

/// One item of a machines list as Nix splits it (newlines and `;`, comments dropped, trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachinesItem {
    /// `@/path/to/machines`
    File(String),
    /// A builder entry, unparsed.
    Entry(String),
}

/// Splits a `builders` value or a machines file's text into items, as Nix 2.8 does.
pub fn machines_items(text: &str) -> Vec<MachinesItem> {
    text.split(['\n', ';'])
        .filter_map(|raw| {
            let item = raw.split('#').next().unwrap_or("").trim();
            if item.is_empty() {
                None
            } else if let Some(file) = item.strip_prefix('@') {
                Some(MachinesItem::File(file.trim().to_string()))
            } else {
                Some(MachinesItem::Entry(item.to_string()))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd1xnRcx7hmBgnpxyLBlWvFnGKNDTJRkHUO0Wd79Pas builderbar-host";

    fn ours() -> MachinesLine {
        MachinesLine::ssh_ng(
            "builder",
            "builderbar-linux",
            vec!["x86_64-linux".into(), "i686-linux".into()],
            "/etc/nix/builderbar_ed25519",
            4,
            1,
            vec!["kvm".into(), "big-parallel".into()],
            KEY,
        )
        .unwrap()
    }

    #[test]
    fn renders_and_parses_back() {
        let l = ours();
        assert_eq!(MachinesLine::parse(&l.render()).unwrap(), l);
        assert_eq!(l.host(), "builderbar-linux");
        assert_eq!(l.user(), Some("builder"));
        assert_eq!(l.host_key_line().as_deref(), Some(KEY));
        insta::assert_snapshot!(l.render());
    }

    #[test]
    fn base64_matches_known_vectors() {
        for (plain, enc) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64_decode("Zg="), None);
        assert_eq!(base64_decode("Z==="), None);
        assert_eq!(base64_decode("Zg==Zg=="), None);
    }

    #[test]
    fn rejects_bad_fields() {
        let mut l = ours();
        l.ssh_key = Some("/path with space".into());
        assert!(matches!(l.validate(), Err(MachinesLineError::BadChar { field: "ssh key", .. })));
        let mut l = ours();
        l.uri = "ssh-ng://builder@127.0.0.1:2222".into();
        assert!(matches!(l.validate(), Err(MachinesLineError::BadUri(_))));
        let mut l = ours();
        l.systems = vec!["x86_64-linux,aarch64-linux".into()];
        assert!(matches!(l.validate(), Err(MachinesLineError::BadListItem { .. })));
        let mut l = ours();
        l.max_jobs = 0;
        assert!(matches!(l.validate(), Err(MachinesLineError::BadNumber { .. })));
        let mut l = ours();
        l.public_host_key = Some("bm90IGEga2V5".into());
        assert!(matches!(l.validate(), Err(MachinesLineError::BadHostKey(_))));
        let mut l = ours();
        l.supported_features = vec!["a#b".into()];
        assert!(l.validate().is_err());
    }

    #[test]
    fn parses_nix_defaults() {
        let l = MachinesLine::parse("ssh://mac x86_64-darwin,aarch64-darwin - 8 - - - -").unwrap();
        assert_eq!(l.ssh_key, None);
        assert_eq!(l.speed_factor, 1);
        assert_eq!(l.systems.len(), 2);
        assert_eq!(MachinesLine::parse("ssh://x").unwrap().max_jobs, 1);
    }

    proptest::proptest! {
        #[test]
        fn valid_lines_round_trip(
            user in "[a-z][a-z0-9_-]{0,8}",
            alias in "[a-z][a-z0-9.-]{0,12}",
            systems in proptest::collection::vec("[a-z0-9_]{1,8}-[a-z]{1,6}", 0..3),
            key in "/[a-zA-Z0-9_./-]{1,30}",
            max_jobs in 1u32..64,
            speed in 1u32..16,
            features in proptest::collection::vec("[a-z][a-z-]{0,10}", 0..4),
            mandatory in proptest::collection::vec("[a-z][a-z-]{0,10}", 0..2),
        ) {
            let mut l = MachinesLine::ssh_ng(&user, &alias, systems, &key, max_jobs, speed, features, KEY).unwrap();
            l.mandatory_features = mandatory;
            let rendered = l.render();
            proptest::prop_assert_eq!(rendered.split(' ').count(), 8);
            proptest::prop_assert_eq!(machines_items(&rendered), vec![MachinesItem::Entry(rendered.clone())]);
            proptest::prop_assert_eq!(MachinesLine::parse(&rendered).unwrap(), l);
        }
    }

    #[test]
    fn splits_items_like_nix() {
        let items = machines_items("ssh://a x86_64-linux ; @/etc/nix/machines\n# c ; d\n  \nssh://b # x");
        assert_eq!(
            items,
            [
                MachinesItem::Entry("ssh://a x86_64-linux".into()),
                MachinesItem::File("/etc/nix/machines".into()),
                MachinesItem::Entry("d".into()),
                MachinesItem::Entry("ssh://b".into()),
            ]
        );
    }
}
