//! The nix-darwin snippet: our wiring as a nix-darwin module, for configs we must not edit.

use super::ssh_config::SSH_CONFIG_FILE_NAME;
use super::wiring::BuilderWiring;

/// A Nix double-quoted string literal.
fn nix_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn nix_list(items: &[String]) -> String {
    if items.is_empty() {
        "[ ]".into()
    } else {
        format!("[ {} ]", items.iter().map(|i| nix_str(i)).collect::<Vec<_>>().join(" "))
    }
}

/// The body of a Nix indented string (`''...''`), each line indented by `indent`.
fn nix_indented(text: &str, indent: &str) -> String {
    text.replace("''", "'''").replace("${", "''${").lines().map(|l| format!("{indent}{l}\n")).collect()
}

/// The module text a nix-darwin user adds to their configuration instead of our edits.
/// `ssh_file_name` is the file in /etc/ssh/ssh_config.d (`builderbar.conf` by default).
pub fn darwin_snippet(w: &BuilderWiring, ssh_file_name: Option<&str>) -> String {
    let m = &w.machine;
    let protocol = m.uri.split_once("://").map_or("ssh-ng", |(s, _)| s);
    let mut fields = vec![format!("hostName = {};", nix_str(m.host())), format!("protocol = {};", nix_str(protocol))];
    if let Some(u) = m.user() {
        fields.push(format!("sshUser = {};", nix_str(u)));
    }
    if let Some(k) = &m.ssh_key {
        fields.push(format!("sshKey = {};", nix_str(k)));
    }
    fields.push(format!("systems = {};", nix_list(&m.systems)));
    fields.push(format!("maxJobs = {};", m.max_jobs));
    fields.push(format!("speedFactor = {};", m.speed_factor));
    fields.push(format!("supportedFeatures = {};", nix_list(&m.supported_features)));
    fields.push(format!("mandatoryFeatures = {};", nix_list(&m.mandatory_features)));
    if let Some(k) = &m.public_host_key {
        fields.push(format!("publicHostKey = {};", nix_str(k)));
    }
    let mut out = String::new();
    out.push_str("# Builderbar: the Linux builder VM, wired through nix-darwin.\n");
    out.push_str("# Add this to your nix-darwin configuration, then run `darwin-rebuild switch`.\n");
    out.push_str("# (Builderbar's flake also has a module for this: darwinModules.default.)\n");
    out.push_str("{\n");
    out.push_str("  nix.distributedBuilds = true;\n");
    out.push_str("  nix.buildMachines = [\n    {\n");
    for f in fields {
        out.push_str(&format!("      {f}\n"));
    }
    out.push_str("    }\n  ];\n");
    out.push_str("  nix.settings.builders-use-substitutes = true;\n");
    if let Some(u) = &w.trusted_user {
        out.push_str(&format!("  nix.settings.extra-trusted-users = [ {} ];\n", nix_str(u)));
    }
    out.push_str("  # Nix 2.8 takes no port in a builder URI: ssh finds the port here.\n");
    let etc_name = format!("ssh/ssh_config.d/{}", ssh_file_name.unwrap_or(SSH_CONFIG_FILE_NAME));
    out.push_str(&format!("  environment.etc.{}.text = ''\n", nix_str(&etc_name)));
    // The file's own header comments speak of `builderbar unsetup`, which does not remove a
    // file nix-darwin owns: keep only the Host block.
    let block: String = w.ssh.render().lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    out.push_str(&nix_indented(&block, "    "));
    out.push_str("  '';\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nix::machines::MachinesLine;
    use crate::nix::ssh_config::SshHostBlock;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFd1xnRcx7hmBgnpxyLBlWvFnGKNDTJRkHUO0Wd79Pas builderbar-host";

    #[test]
    fn renders_the_module() {
        let key = "/etc/nix/builderbar_ed25519";
        let machine = MachinesLine::ssh_ng(
            "builder",
            "builderbar-linux",
            vec!["aarch64-linux".into()],
            key,
            4,
            1,
            vec!["kvm".into(), "big-parallel".into(), "benchmark".into()],
            KEY,
        )
        .unwrap();
        let ssh = SshHostBlock::new("builderbar-linux", 31022, "builder", key).unwrap();
        let w = BuilderWiring::new(machine, ssh, "/etc/nix/machines", Some("ada")).unwrap();
        insta::assert_snapshot!(darwin_snippet(&w, None));
    }

    /// The snippet for the app's defaults (stock image, aarch64 guest, 4 jobs), which
    /// tests/nix/eval-modules.nix evaluates beside darwinModules.default: the module must
    /// declare the same build machine and ssh_config block. Rewrite it with
    /// `BUILDERBAR_WRITE_FIXTURES=1 cargo test -p builderbar-core --lib darwin_snippet`.
    #[test]
    fn the_nix_module_fixture_is_current() {
        use crate::setup::{wiring::builder_wiring, BuilderIdentity, WiringTarget};
        let id = BuilderIdentity {
            system: "aarch64-linux".into(),
            ssh_user: "builder".into(),
            host_key_line: STOCK_KEY.into(),
            port: crate::settings::Settings::default().port,
            max_jobs: 4,
        };
        let text = darwin_snippet(&builder_wiring(&id, &WiringTarget::system()).unwrap(), None);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/nix/fixtures/darwin-snippet.nix");
        if std::env::var_os("BUILDERBAR_WRITE_FIXTURES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(committed, text, "{} is stale: rerun with BUILDERBAR_WRITE_FIXTURES=1", path.display());
    }

    /// nixpkgs' public host key of darwin.linux-builder (tests/nix/fixtures/stock_host_ed25519_key.pub).
    const STOCK_KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJBWcxb/Blaqt1auOtE+F8QUWrUotiC5qBJ+UuEWdVCb root@nixos";

    #[test]
    fn escapes_nix_strings() {
        assert_eq!(nix_str("a\"b\\c${d}$e"), "\"a\\\"b\\\\c\\${d}$e\"");
        assert_eq!(nix_indented("x ${y} ''z''\n", "  "), "  x ''${y} '''z'''\n");
    }
}
