//! What an image fetch shows while it runs (phase, paths, bytes, time left, activity) and what
//! `builderbar image status` and the dashboard show about the image in use.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::api::error::ErrorReport;

/// Where a fetch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FetchPhase {
    /// Writing the flake copy, finding Nix.
    Preparing,
    /// Nix evaluates the flake; first it downloads the pinned nixpkgs' source.
    Evaluating,
    /// Nix fetches paths from the binary cache and builds what is not there.
    Realising,
    /// The image is linked under the caches directory as a GC root and becomes the image setting.
    Linking,
    Done,
    Failed,
    Cancelled,
}

impl FetchPhase {
    pub fn is_final(self) -> bool {
        matches!(self, FetchPhase::Done | FetchPhase::Failed | FetchPhase::Cancelled)
    }
}

/// An image fetch as the setup window, the dashboard and `builderbar image fetch` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImageProgress {
    /// "stock" (stage 1, nixpkgs' builder) or "builderbar" (stage 2, the per-install host key).
    pub stage: String,
    pub phase: FetchPhase,
    /// What Nix builds: a flake installable or a Nix file.
    pub source: String,
    /// Nix's current activity ("copying path '/nix/store/…' from 'https://cache.nixos.org'").
    pub activity: String,
    #[ts(type = "number")]
    pub fetched: u64,
    #[ts(type = "number")]
    pub to_fetch: u64,
    #[ts(type = "number")]
    pub built: u64,
    #[ts(type = "number")]
    pub to_build: u64,
    /// Bytes downloaded in this phase (the flake's inputs while evaluating, then the paths).
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_expected: u64,
    /// Seconds left at the download rate so far, once it can be told.
    #[ts(type = "number | null")]
    pub eta_secs: Option<u64>,
    #[ts(type = "number")]
    pub elapsed_secs: u64,
    /// Nix's last log lines.
    pub log: Vec<String>,
    /// Done: the image directory (the link under the caches directory).
    pub image: Option<String>,
    /// Failed: what happened and what to do.
    pub error: Option<ErrorReport>,
    /// [`ImageProgress::summary`], as sent: the line the window shows.
    pub headline: String,
    /// [`ImageProgress::fraction`], as sent.
    pub fraction: Option<f32>,
}

impl ImageProgress {
    pub fn new(stage: &str, source: String) -> ImageProgress {
        ImageProgress {
            stage: stage.into(),
            phase: FetchPhase::Preparing,
            source,
            activity: String::new(),
            fetched: 0,
            to_fetch: 0,
            built: 0,
            to_build: 0,
            bytes_done: 0,
            bytes_expected: 0,
            eta_secs: None,
            elapsed_secs: 0,
            log: Vec::new(),
            image: None,
            error: None,
            headline: String::new(),
            fraction: None,
        }
    }

    /// The report as it is sent: with its headline and fraction filled in.
    pub fn told(&self) -> ImageProgress {
        ImageProgress { headline: self.summary(), fraction: self.fraction(), ..self.clone() }
    }

    /// 0..=1 when it can be told: the bytes downloaded, else the paths done.
    pub fn fraction(&self) -> Option<f32> {
        match self.phase {
            FetchPhase::Done | FetchPhase::Linking => Some(1.0),
            _ if self.bytes_expected > 0 => Some((self.bytes_done as f32 / self.bytes_expected as f32).min(1.0)),
            FetchPhase::Realising if self.to_fetch + self.to_build > 0 => {
                Some((self.fetched + self.built) as f32 / (self.to_fetch + self.to_build) as f32)
            }
            _ => None,
        }
    }

    /// One line: the phase, the counts, the bytes and the time left.
    pub fn summary(&self) -> String {
        match self.phase {
            FetchPhase::Preparing => "preparing the flake".into(),
            FetchPhase::Evaluating if self.bytes_done > 0 => format!(
                "evaluating the flake: downloading nixpkgs' source ({}{})",
                size(self.bytes_done),
                if self.bytes_expected > self.bytes_done {
                    format!(" of {}", size(self.bytes_expected))
                } else {
                    String::new()
                }
            ),
            FetchPhase::Evaluating if self.source.ends_with(".nix") => format!("evaluating {}", self.source),
            FetchPhase::Evaluating => "evaluating the flake (Nix downloads the pinned nixpkgs' source first)".into(),
            FetchPhase::Realising => {
                let mut parts = Vec::new();
                if self.to_fetch > 0 {
                    parts.push(format!("fetched {} of {} paths", self.fetched, self.to_fetch));
                }
                if self.bytes_expected > 0 {
                    parts.push(format!("{} of {}", size(self.bytes_done), size(self.bytes_expected)));
                }
                if self.to_build > 0 {
                    parts.push(format!("built {} of {}", self.built, self.to_build));
                }
                if let Some(eta) = self.eta_secs {
                    parts.push(format!("about {} left", duration(eta)));
                }
                if parts.is_empty() {
                    "asking the binary cache what it has".into()
                } else {
                    parts.join(", ")
                }
            }
            FetchPhase::Linking => "linking the image under the caches directory (a Nix GC root)".into(),
            FetchPhase::Done => format!("ready: {}", self.image.as_deref().unwrap_or("")),
            FetchPhase::Failed => self.error.as_ref().map(|e| e.message.clone()).unwrap_or_else(|| "failed".into()),
            FetchPhase::Cancelled => "cancelled; nothing was changed".into(),
        }
    }
}

/// Bytes in the unit a person reads: "812 kB", "1.4 GB".
pub fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

fn duration(secs: u64) -> String {
    if secs >= 90 {
        format!("{} min", secs.div_ceil(60))
    } else {
        format!("{secs} s")
    }
}

/// One image under the caches directory, for `builderbar image list` and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct InstalledImageView {
    pub name: String,
    pub path: String,
    pub target: String,
    /// The manifest's name, or why it cannot be read.
    pub title: String,
    /// "stock", "builderbar", or "" when the manifest cannot be read.
    pub stage: String,
    pub in_use: bool,
}

/// Which image runs, which stage that is and why it matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ImageStatusView {
    /// The image directory in use, if any.
    pub image: Option<String>,
    pub title: Option<String>,
    /// "stock", "builderbar" or null (no image).
    pub stage: Option<String>,
    /// Why the stage matters, in a sentence.
    pub stage_note: String,
    /// Where new images come from (a flake installable or a Nix file).
    pub source: String,
    pub installed: Vec<InstalledImageView>,
    /// A state disk kept from the previous image (for a rollback), if any.
    pub previous_disk: Option<String>,
}
