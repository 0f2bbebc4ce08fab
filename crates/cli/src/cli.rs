//! The command line's shape (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "builderbar", version, about = "A Linux builder for Nix, in a VM, one command away.")]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug). BUILDERBAR_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the builder VM (or join the one already running).
    Start {
        /// Wait until the builder accepts SSH, showing progress.
        #[arg(long)]
        wait: bool,
        /// Image directory (holding builderbar-image.json) instead of the configured one.
        #[arg(long)]
        image: Option<PathBuf>,
        /// Seconds to wait with --wait.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Stop the builder gracefully (the guest's power key, then quit, then kill).
    Stop {
        /// Seconds to wait for the guest to power off (default: the stop_timeout_secs setting).
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Show the builder's state.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Follow the builder's state changes (reattaching to a running VM) until interrupted.
    Watch {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Exit once this state is reached.
        #[arg(long, value_parser = ["stopped", "starting", "running", "stopping", "failed"])]
        until: Option<String>,
    },
    /// Serve the builder on demand (on_demand setting): start it on connect, stop it when idle; until Ctrl-C.
    Serve,
    /// Attach to the serial console: live output, typing goes to the guest; Ctrl-] detaches.
    Console {
        /// Print the console history of this boot and exit.
        #[arg(long)]
        history: bool,
        /// Only show output; do not read the keyboard.
        #[arg(long)]
        no_input: bool,
    },
    /// Show Builderbar's log (or the guest's console log).
    Logs {
        /// The guest's serial console log of the current (or last) boot.
        #[arg(long)]
        console: bool,
        /// Last N lines.
        #[arg(short = 'n', long, default_value_t = 200)]
        lines: usize,
        /// The guest's bytes as they are, escape sequences included (by default control
        /// characters are shown as text, e.g. ESC as ^[, so the guest cannot drive the terminal).
        #[arg(long)]
        raw: bool,
    },
    /// Run a command in the builder over SSH (generated key, pinned host key).
    Ssh {
        /// The command and its arguments (after --).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Show or change settings.
    Settings {
        #[command(subcommand)]
        action: Option<SettingsAction>,
    },
    /// The install's SSH keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Wire the builder into Nix: keys, nix.conf, machines, ssh config; one authorization; a test build.
    Setup {
        #[command(flatten)]
        target: TargetFlags,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
        /// Show the changes as a diff and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also add you to `extra-trusted-users` (Nix ignores untrusted users' builders).
        #[arg(long)]
        trust_me: bool,
        /// Skip the test build at the end.
        #[arg(long)]
        no_test_build: bool,
        /// Stay on stage 1 (nixpkgs' stock builder, whose host key is public) instead of
        /// building stage 2 on it and switching.
        #[arg(long)]
        no_harden: bool,
    },
    /// Remove everything setup added; the user's files get their original bytes back.
    Unsetup {
        #[command(flatten)]
        target: TargetFlags,
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Builder images: which one runs, fetch stage 1, build and switch to stage 2, use, list, remove.
    Image {
        #[command(subcommand)]
        action: ImageAction,
    },
    /// Check everything Builderbar depends on; each problem with its cause and fix.
    Doctor {
        #[command(flatten)]
        target: TargetFlags,
        #[arg(long)]
        json: bool,
    },
    /// Print the qemu command line the next start would use.
    Argv {
        #[arg(long)]
        image: Option<PathBuf>,
        /// `{"program": ..., "args": [...]}`: one token per element, for comparing command lines.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsAction {
    /// Print all settings (JSON).
    Show,
    /// Set one setting: `builderbar settings set cores 4`. Validated; nothing changes on error.
    Set { key: String, value: String },
    /// Print the settings file's path.
    Path,
}

#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// The image in use, its stage and why it matters, where images come from, the ones there are.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Fetch (or build) an image through Nix and make it the image setting; Ctrl-C cancels.
    Fetch {
        /// stock (stage 1, nixpkgs' builder) or builderbar (stage 2; needs a Linux builder).
        #[arg(long, default_value = "stock")]
        stage: String,
    },
    /// Build stage 2 (a host key made for this install) on the running stage-1 builder and
    /// switch to it in one Plan: stop, the new pinned key, start, a test build.
    Harden {
        #[command(flatten)]
        target: TargetFlags,
        #[arg(long)]
        yes: bool,
    },
    /// Switch to an image: a name from `image list`, a directory, or `previous` (the image the
    /// kept state disk belongs to); the wiring follows in one Plan.
    Use {
        name: String,
        #[command(flatten)]
        target: TargetFlags,
        #[arg(long)]
        yes: bool,
    },
    /// The images under the caches directory.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove an image's link (its store paths become garbage for `nix-collect-garbage`).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Public halves and fingerprints only.
    Show,
    /// Replace both keys, restart the builder if it runs, and re-apply the wiring in one Plan.
    Rotate {
        #[command(flatten)]
        target: TargetFlags,
        #[arg(long)]
        yes: bool,
    },
}

/// Where setup writes and how it is authorized (defaults: the settings, else the system's).
#[derive(Debug, Clone, clap::Args)]
pub struct TargetFlags {
    /// Nix's configuration directory (default: the nix_conf_dir setting, else /etc/nix).
    #[arg(long)]
    pub nix_conf_dir: Option<PathBuf>,
    /// The ssh client's drop-in directory (default: the ssh_config_dir setting, else /etc/ssh/ssh_config.d).
    #[arg(long)]
    pub ssh_config_dir: Option<PathBuf>,
    /// How to get root: osascript, pkexec, sudo or none (default: chosen for this machine).
    #[arg(long)]
    pub elevation: Option<String>,
}
