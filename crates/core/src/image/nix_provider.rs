//! The `nix` image provider: builds a builder image with Nix and loads its manifest.
//!
//! A flake output (`github:…/builderbar#builder-image-stock`) is built with
//! `nix build --json --no-link`; a Nix file (no flakes needed, e.g. Debian's Nix 2.8) with
//! `nix-build --no-out-link`. Both run with `--log-format internal-json`, whose progress lines
//! become [`NixEvent`]s (steps and bytes); Nix's error messages become a [`NixError`] with a hint.
//! Commands are argv vectors: nothing here goes through a shell.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::error::UserFacing;
use crate::host::{Host, Os};
use crate::image::manifest::{ImageManifest, ManifestError};

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A flake installable, e.g. `github:owner/builderbar#builder-image-stock` or `/src/builderbar#builder-image`.
    Flake(String),
    /// A Nix file, optionally an attribute in it and `--argstr` arguments; built with `nix-build`.
    File { path: PathBuf, attr: Option<String>, args: Vec<(String, String)> },
}

/// The two images of the bootstrap (docs/flake.md): nixpkgs' stock builder, substituted, then
/// Builderbar's hardened image, built on the running stock builder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Stock,
    Hardened,
}

impl Stage {
    /// The flake package that holds this stage's image directory.
    pub fn package(self) -> &'static str {
        match self {
            Stage::Stock => "builder-image-stock",
            Stage::Hardened => "builder-image",
        }
    }

    /// The manifest's variant name, and what a Nix file gets as `stage`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Stock => "stock",
            Stage::Hardened => "builderbar",
        }
    }
}

impl ImageSource {
    /// `<flake>#packages.<system>.<stage package>` for a Mac; the flake has no images for Linux
    /// hosts (they build natively and use the test guest), so those get `None`.
    pub fn flake_image(flake: &str, host: Host, stage: Stage) -> Option<ImageSource> {
        match host.os {
            Os::Macos => Some(ImageSource::Flake(format!(
                "{flake}#packages.{}-darwin.{}",
                host.arch.qemu_name(),
                stage.package()
            ))),
            Os::Linux => None,
        }
    }
}

/// Asks a running build to stop: [`CancelHandle::cancel`] interrupts Nix (SIGINT to its
/// process group, so builders and downloads stop too; SIGKILL if it lingers).
#[derive(Debug, Clone)]
pub struct Cancel(tokio::sync::watch::Receiver<bool>);

/// The side of a [`Cancel`] that cancels.
#[derive(Debug, Clone)]
pub struct CancelHandle(std::sync::Arc<tokio::sync::watch::Sender<bool>>);

impl Cancel {
    /// A new pair: the handle cancels, the [`Cancel`] goes to the build.
    pub fn new() -> (CancelHandle, Cancel) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (CancelHandle(std::sync::Arc::new(tx)), Cancel(rx))
    }

    /// A token nothing cancels.
    pub fn never() -> Cancel {
        Cancel::new().1
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once cancelled (never, when every handle is gone without cancelling).
    pub async fn cancelled(&mut self) {
        if self.0.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CancelHandle {
    pub fn cancel(&self) {
        let _ = self.0.send(true);
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }
}

/// How long Nix may take to stop after SIGINT before its process group is killed.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A command line for one Nix program: what [`NixProvider::command`] returns and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// How to call Nix: which binaries, which environment, which extra options.
#[derive(Debug, Clone)]
pub struct NixProvider {
    /// Directory holding `nix` and `nix-build`; `None` looks them up on PATH.
    bin_dir: Option<PathBuf>,
    /// Variables set (or, with `None`, removed) for Nix; the rest is inherited.
    env: Vec<(OsString, Option<OsString>)>,
    /// Pass `--extra-experimental-features "nix-command flakes"` to `nix build`, so flakes work
    /// on a Nix that has them but not switched on in nix.conf.
    enable_flakes: bool,
    /// Appended to every command, e.g. `--option max-jobs 0`.
    extra_args: Vec<OsString>,
}

impl Default for NixProvider {
    fn default() -> Self {
        NixProvider { bin_dir: None, env: Vec::new(), enable_flakes: true, extra_args: Vec::new() }
    }
}

/// What the build is doing, for a progress bar and a log pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NixEvent {
    /// Evaluation is over and Nix began realising (fetching and building) paths. Before this,
    /// a flake's inputs are fetched and evaluated; `Bytes` then counts those downloads only.
    Realising,
    /// An activity began: "building '/nix/store/…-store-image.drv'", "copying path '…' from '…'".
    Activity(String),
    /// Steps: derivations built and store paths fetched, each out of the number expected so far.
    Steps { built: u64, to_build: u64, fetched: u64, to_fetch: u64 },
    /// Bytes downloaded out of the expected download size.
    Bytes { done: u64, expected: u64 },
    /// A build log line or a message from Nix.
    Log(String),
}

/// The result: the image directory in the store and its manifest, loaded and validated.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub dir: PathBuf,
    pub manifest: ImageManifest,
}

/// Why an image could not be obtained with Nix.
#[derive(Debug, thiserror::Error)]
pub enum NixError {
    #[error("Nix is not installed here: `{}` could not be started ({source})", .program.display())]
    NotInstalled { program: PathBuf, source: std::io::Error },
    #[error("this Nix cannot build flakes: {message}")]
    FlakesDisabled { message: String },
    #[error(
        "building the image needs a {system} machine for {drv}, and there is none: it is not in the binary cache, \
         so Nix would have to build Linux code"
    )]
    NeedsLinuxBuilder { system: String, drv: String },
    #[error("building {drv} failed: {message}")]
    BuildFailed { drv: String, message: String, log_tail: Vec<String> },
    #[error("Nix could not evaluate the image expression: {message}")]
    EvalFailed { message: String },
    #[error("nix failed ({status}): {message}")]
    Failed { status: String, message: String },
    #[error("nix succeeded but printed no output path (stdout: {stdout:?})")]
    NoOutput { stdout: String },
    #[error("the image build was cancelled; nothing was changed")]
    Cancelled,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

impl UserFacing for NixError {
    fn hint(&self) -> String {
        match self {
            NixError::NotInstalled { .. } => "Install Nix (https://nixos.org/download, or the Determinate installer), \
                 open a new terminal so it is on PATH, then try again."
                .into(),
            NixError::FlakesDisabled { .. } => {
                "Use Nix 2.4 or newer, or add `experimental-features = nix-command flakes` \
                 to nix.conf; an image file can also be built without flakes (nix-build)."
                    .into()
            }
            NixError::NeedsLinuxBuilder { .. } => {
                "The stock image only downloads Linux paths; if the pinned nixpkgs is \
                 not in cache.nixos.org yet, update Builderbar or retry later. The hardened image is built on a \
                 running stock builder: start that first (`builderbar start`)."
                    .into()
            }
            NixError::BuildFailed { .. } => {
                "Read the build log above (or `nix log` on the derivation); fix the cause and build again.".into()
            }
            NixError::EvalFailed { .. } => {
                "Check the flake reference or file and attribute name; `nix flake show` lists what a flake offers."
                    .into()
            }
            NixError::Failed { .. } | NixError::NoOutput { .. } => {
                "Run the same command in a terminal to see Nix's full output.".into()
            }
            NixError::Cancelled => "Start it again when you are ready; what Nix already downloaded is reused.".into(),
            NixError::Manifest(e) => e.hint(),
        }
    }
}

impl NixProvider {
    pub fn new() -> Self {
        Self::default()
    }

    /// Use the `nix` and `nix-build` in this directory instead of PATH's.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Set an environment variable for Nix (e.g. `NIX_REMOTE`, `NIX_CONF_DIR`).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Remove an environment variable for Nix.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    pub fn enable_flakes(mut self, on: bool) -> Self {
        self.enable_flakes = on;
        self
    }

    pub fn extra_arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    fn program(&self, name: &str) -> PathBuf {
        match &self.bin_dir {
            Some(dir) => dir.join(name),
            None => PathBuf::from(name),
        }
    }

    /// The argv that builds `source`.
    pub fn command(&self, source: &ImageSource) -> NixCommand {
        let mut args: Vec<OsString> = Vec::new();
        let program = match source {
            ImageSource::Flake(installable) => {
                if self.enable_flakes {
                    args.extend(["--extra-experimental-features".into(), "nix-command flakes".into()]);
                }
                args.extend(["build", "--json", "--no-link", "--log-format", "internal-json"].map(OsString::from));
                args.extend(self.extra_args.iter().cloned());
                args.push(installable.into());
                self.program("nix")
            }
            ImageSource::File { path, attr, args: file_args } => {
                args.extend(["--no-out-link", "--log-format", "internal-json"].map(OsString::from));
                args.extend(self.extra_args.iter().cloned());
                args.push(path.into());
                if let Some(attr) = attr {
                    args.extend(["-A".into(), attr.into()]);
                }
                for (k, v) in file_args {
                    args.extend(["--argstr".into(), k.into(), v.into()]);
                }
                self.program("nix-build")
            }
        };
        NixCommand { program, args }
    }

    /// The argv that makes `link` a garbage-collector root for the store path `path` (an
    /// indirect root: Nix records the link, so removing the link frees the image).
    pub fn add_root_command(&self, path: &Path, link: &Path) -> NixCommand {
        let args: Vec<OsString> = vec!["--realise".into(), path.into(), "--add-root".into(), link.into()];
        NixCommand { program: self.program("nix-store"), args }
    }

    /// Makes `link` a GC root of `path` (see [`NixProvider::add_root_command`]).
    pub async fn add_root(&self, path: &Path, link: &Path) -> Result<(), NixError> {
        let cmd = self.add_root_command(path, link);
        let mut command = self.tokio_command(&cmd);
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let out =
            command.output().await.map_err(|source| NixError::NotInstalled { program: cmd.program.clone(), source })?;
        if !out.status.success() {
            return Err(NixError::Failed {
                status: out.status.to_string(),
                message: strip_ansi(String::from_utf8_lossy(&out.stderr).trim()),
            });
        }
        Ok(())
    }

    fn tokio_command(&self, cmd: &NixCommand) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&cmd.program);
        command.args(&cmd.args).stdin(Stdio::null()).kill_on_drop(true);
        for (k, v) in &self.env {
            match v {
                Some(v) => command.env(k, v),
                None => command.env_remove(k),
            };
        }
        command
    }

    /// Builds the image, reporting progress to `on_event`, and loads its manifest.
    pub async fn build(
        &self,
        source: &ImageSource,
        on_event: impl FnMut(NixEvent) + Send,
    ) -> Result<BuiltImage, NixError> {
        self.build_cancellable(source, on_event, Cancel::never()).await
    }

    /// [`NixProvider::build`] that stops when `cancel` fires: Nix is interrupted (its whole
    /// process group) and waited for, and the result is [`NixError::Cancelled`]. Nothing is
    /// linked or registered by a build, so a cancelled one leaves only unreferenced store paths.
    pub async fn build_cancellable(
        &self,
        source: &ImageSource,
        mut on_event: impl FnMut(NixEvent) + Send,
        mut cancel: Cancel,
    ) -> Result<BuiltImage, NixError> {
        if cancel.is_cancelled() {
            return Err(NixError::Cancelled);
        }
        let cmd = self.command(source);
        let mut command = self.tokio_command(&cmd);
        // Its own process group: a cancel reaches the builders and downloads Nix forked.
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
        let mut child =
            command.spawn().map_err(|source| NixError::NotInstalled { program: cmd.program.clone(), source })?;
        let mut stdout = child.stdout.take().ok_or_else(|| NixError::NoOutput { stdout: String::new() })?;
        let stderr = child.stderr.take().ok_or_else(|| NixError::NoOutput { stdout: String::new() })?;
        let out_task = tokio::spawn(async move {
            let mut buf = String::new();
            stdout.read_to_string(&mut buf).await.map(|_| buf)
        });
        let mut parser = ProgressParser::default();
        // Read to the end whatever the bytes are (a build log need not be UTF-8): stopping
        // early would leave Nix blocked on a full pipe.
        let mut stderr = BufReader::new(stderr);
        let mut line = Vec::new();
        loop {
            tokio::select! {
                read = stderr.read_until(b'\n', &mut line) => {
                    if !read.is_ok_and(|n| n > 0) {
                        break;
                    }
                    let text = String::from_utf8_lossy(&line);
                    for event in parser.feed(text.trim_end_matches(['\n', '\r'])) {
                        on_event(event);
                    }
                    line.clear();
                }
                () = cancel.cancelled() => {
                    interrupt(&mut child).await;
                    return Err(NixError::Cancelled);
                }
            }
        }
        let status = child.wait().await.map_err(|e| NixError::Failed { status: "?".into(), message: e.to_string() })?;
        let stdout = out_task
            .await
            .map_err(|e| NixError::Failed { status: "?".into(), message: e.to_string() })?
            .map_err(|e| NixError::Failed { status: "?".into(), message: e.to_string() })?;
        if !status.success() {
            return Err(parser.error(&status.to_string()));
        }
        let dir = match source {
            ImageSource::Flake(_) => output_from_json(&stdout),
            ImageSource::File { .. } => stdout.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(PathBuf::from),
        }
        .ok_or_else(|| NixError::NoOutput { stdout: stdout.clone() })?;
        let manifest = ImageManifest::load(&dir)?;
        Ok(BuiltImage { dir, manifest })
    }
}

/// Interrupts Nix's process group as Ctrl-C would, waits for it, and kills what is left.
async fn interrupt(child: &mut tokio::process::Child) {
    use rustix::process::{kill_process_group, Pid, Signal};
    let Some(pid) = child.id().and_then(|p| Pid::from_raw(p as i32)) else { return };
    let _ = kill_process_group(pid, Signal::INT);
    if tokio::time::timeout(INTERRUPT_GRACE, child.wait()).await.is_err() {
        let _ = kill_process_group(pid, Signal::KILL);
        let _ = child.wait().await;
    }
    // What it forked and left behind in its group (a background job ignores SIGINT).
    let _ = kill_process_group(pid, Signal::KILL);
}

/// `nix build --json` prints `[{"drvPath": …, "outputs": {"out": "/nix/store/…"}}]`.
fn output_from_json(stdout: &str) -> Option<PathBuf> {
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    let first = value.as_array()?.first()?;
    let outputs = first.get("outputs")?.as_object()?;
    let path = outputs.get("out").or_else(|| outputs.values().next())?.as_str()?;
    Some(PathBuf::from(path))
}

// Nix's activity and result types (src/libutil/logging.hh), as they appear in internal-json.
const ACT_FILE_TRANSFER: u64 = 101;
const ACT_REALISE: u64 = 102;
const ACT_BUILDS: u64 = 104;
const ACT_BUILD: u64 = 105;
const ACT_COPY_PATHS: u64 = 103;
const ACT_COPY_PATH: u64 = 100;
const ACT_SUBSTITUTE: u64 = 108;
const RES_BUILD_LOG_LINE: u64 = 101;
const RES_PROGRESS: u64 = 105;
const RES_SET_EXPECTED: u64 = 106;
const RES_POST_BUILD_LOG_LINE: u64 = 107;

/// How many log lines of a failed build the error keeps.
const LOG_TAIL: usize = 20;

/// Turns `--log-format internal-json` lines into events and remembers what an error needs.
#[derive(Debug, Default)]
pub struct ProgressParser {
    /// Activity id -> activity type.
    types: HashMap<u64, u64>,
    /// Activity id -> (done, expected) from its last Progress result.
    progress: HashMap<u64, (u64, u64)>,
    /// (activity id, activity type counted) -> expected, from SetExpected results.
    expected: HashMap<(u64, u64), u64>,
    last_steps: Option<NixEvent>,
    /// Nix began realising paths (evaluation, and a flake's input downloads, are over).
    realising: bool,
    /// File transfers that began before realising (a flake's inputs): counted apart.
    eval_transfers: std::collections::HashSet<u64>,
    last_bytes: Option<NixEvent>,
    /// Error messages (level 0), ANSI codes removed.
    errors: Vec<String>,
    /// The last lines of build output, for a failed build's error.
    log_tail: Vec<String>,
}

impl ProgressParser {
    /// Feeds one stderr line; returns the events it causes.
    pub fn feed(&mut self, line: &str) -> Vec<NixEvent> {
        let Some(json) = line.strip_prefix("@nix ") else {
            let text = strip_ansi(line);
            if text.trim().is_empty() {
                return Vec::new();
            }
            if text.starts_with("error:") {
                self.errors.push(text.trim_start_matches("error:").trim().to_string());
            }
            return vec![NixEvent::Log(text)];
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            return vec![NixEvent::Log(line.to_string())];
        };
        let id = v.get("id").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let ty = v.get("type").and_then(serde_json::Value::as_u64).unwrap_or(0);
        let fields = v.get("fields").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
        let num = |i: usize| fields.get(i).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let mut events = Vec::new();
        match v.get("action").and_then(serde_json::Value::as_str) {
            Some("start") => {
                self.types.insert(id, ty);
                if matches!(ty, ACT_REALISE | ACT_BUILDS | ACT_COPY_PATHS) && !self.realising {
                    self.realising = true;
                    self.last_bytes = None;
                    events.push(NixEvent::Realising);
                } else if ty == ACT_FILE_TRANSFER && !self.realising {
                    self.eval_transfers.insert(id);
                }
                let text = v.get("text").and_then(serde_json::Value::as_str).unwrap_or("");
                if matches!(ty, ACT_BUILD | ACT_SUBSTITUTE | ACT_COPY_PATH | ACT_FILE_TRANSFER) && !text.is_empty() {
                    events.push(NixEvent::Activity(strip_ansi(text)));
                }
            }
            Some("result") => match ty {
                RES_PROGRESS => {
                    self.progress.insert(id, (num(0), num(1)));
                }
                RES_SET_EXPECTED => {
                    self.expected.insert((id, num(0)), num(1));
                }
                RES_BUILD_LOG_LINE | RES_POST_BUILD_LOG_LINE => {
                    if let Some(text) = fields.first().and_then(serde_json::Value::as_str) {
                        let text = strip_ansi(text);
                        self.log_tail.push(text.clone());
                        if self.log_tail.len() > LOG_TAIL {
                            self.log_tail.remove(0);
                        }
                        events.push(NixEvent::Log(text));
                    }
                }
                _ => {}
            },
            Some("msg") => {
                let level = v.get("level").and_then(serde_json::Value::as_u64).unwrap_or(0);
                let raw = v.get("raw_msg").or_else(|| v.get("msg")).and_then(serde_json::Value::as_str).unwrap_or("");
                let msg = strip_ansi(v.get("msg").and_then(serde_json::Value::as_str).unwrap_or(""));
                if level == 0 {
                    self.errors.push(strip_ansi(raw).trim_start_matches("error:").trim().to_string());
                }
                if level <= 3 && !msg.is_empty() {
                    events.push(NixEvent::Log(msg));
                }
            }
            _ => {}
        }
        self.push_changed(&mut events);
        events
    }

    fn push_changed(&mut self, events: &mut Vec<NixEvent>) {
        let steps = NixEvent::Steps {
            built: self.done_of(ACT_BUILDS),
            to_build: self.expected_of(ACT_BUILDS),
            fetched: self.done_of(ACT_COPY_PATHS),
            to_fetch: self.expected_of(ACT_COPY_PATHS),
        };
        let bytes = self.bytes();
        let zero_steps = matches!(steps, NixEvent::Steps { built: 0, to_build: 0, fetched: 0, to_fetch: 0 });
        if !zero_steps && self.last_steps.as_ref() != Some(&steps) {
            self.last_steps = Some(steps.clone());
            events.push(steps);
        }
        let zero_bytes = matches!(bytes, NixEvent::Bytes { done: 0, expected: 0 });
        if !zero_bytes && self.last_bytes.as_ref() != Some(&bytes) {
            self.last_bytes = Some(bytes.clone());
            events.push(bytes);
        }
    }

    /// Downloads of the current phase: a flake's inputs while evaluating; then the paths
    /// Nix substitutes, out of the download size it announced.
    fn bytes(&self) -> NixEvent {
        let transfers = self.progress.iter().filter(|(id, _)| {
            self.types.get(id) == Some(&ACT_FILE_TRANSFER) && self.eval_transfers.contains(id) != self.realising
        });
        let (done, own): (u64, u64) = transfers.fold((0, 0), |(d, e), (_, (pd, pe))| (d + pd, e + pe));
        let announced: u64 = if self.realising {
            self.expected.iter().filter(|((_, t), _)| *t == ACT_FILE_TRANSFER).map(|(_, e)| e).sum()
        } else {
            0
        };
        NixEvent::Bytes { done, expected: announced.max(own) }
    }

    /// Sum of the `done` counters of all activities of this type.
    fn done_of(&self, ty: u64) -> u64 {
        self.progress.iter().filter(|(id, _)| self.types.get(id) == Some(&ty)).map(|(_, (d, _))| d).sum()
    }

    /// What Nix expects for this type: its SetExpected announcements, or else the activities' own totals.
    fn expected_of(&self, ty: u64) -> u64 {
        let announced: u64 = self.expected.iter().filter(|((_, t), _)| *t == ty).map(|(_, e)| e).sum();
        let own: u64 =
            self.progress.iter().filter(|(id, _)| self.types.get(id) == Some(&ty)).map(|(_, (_, e))| e).sum();
        announced.max(own)
    }

    /// The error that Nix's messages describe, for a run that exited with `status`.
    pub fn error(&self, status: &str) -> NixError {
        for e in &self.errors {
            if e.contains("experimental Nix feature 'flakes' is disabled")
                || e.contains("experimental Nix feature 'nix-command' is disabled")
            {
                return NixError::FlakesDisabled { message: e.clone() };
            }
            // "a 'aarch64-linux' with features {} is required to build '/nix/store/…drv', but I am a …"
            if let Some(rest) = e.strip_prefix("a '") {
                if let (Some(system), Some(drv)) = (rest.split('\'').next(), quoted_after(e, "required to build '")) {
                    return NixError::NeedsLinuxBuilder { system: system.to_string(), drv };
                }
            }
            if let Some(drv) = quoted_after(e, "builder for '") {
                return NixError::BuildFailed { drv, message: e.clone(), log_tail: self.log_tail.clone() };
            }
        }
        let message = self.errors.join("\n");
        if self.types.values().any(|t| *t == ACT_BUILDS) || self.errors.is_empty() {
            NixError::Failed { status: status.to_string(), message }
        } else {
            // Nix gave up before it started realising anything: the expression did not evaluate.
            NixError::EvalFailed { message }
        }
    }
}

/// The text between `'` after `marker` and the next `'`.
fn quoted_after(s: &str, marker: &str) -> Option<String> {
    let start = s.find(marker)? + marker.len();
    let rest = &s[start..];
    Some(rest[..rest.find('\'')?].to_string())
}

/// Removes ANSI escape sequences (`ESC [ … letter`) that Nix puts around names.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Where Nix's binaries are when the app does not inherit a login shell's PATH (a macOS GUI
/// app gets a bare PATH): PATH first, then the places the installers and nix-darwin use.
pub fn locate_nix_bin_dir(path_var: Option<&std::ffi::OsStr>, home: Option<&Path>) -> Option<PathBuf> {
    let from_path = path_var.map(|p| std::env::split_paths(p).collect::<Vec<_>>()).unwrap_or_default();
    let well_known = [
        Some(PathBuf::from("/nix/var/nix/profiles/default/bin")),
        Some(PathBuf::from("/run/current-system/sw/bin")),
        home.map(|h| h.join(".nix-profile/bin")),
        home.map(|h| h.join(".local/state/nix/profile/bin")),
    ];
    from_path.into_iter().chain(well_known.into_iter().flatten()).find(|d| is_executable(&d.join("nix-build")))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests;
